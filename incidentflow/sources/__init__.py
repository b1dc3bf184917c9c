"""Evidence sources: read-only plug-ins the investigation agent asks for facts.

Each is enabled explicitly in settings (see `incidentflow.sources.build`) and touches nothing
at import or construction: a source speaks to its system only when the agent asks a question.

- `bundle` (`incidentflow.sources.bundle.BundleEvidenceSource`): a recorded scenario bundle.
- `prometheus`: range queries from PromQL templates per signal.
- `loki`: LogQL range queries.
- `changelog`: changes from a file, an HTTP JSON endpoint or `kubectl` rollout history.
- `runbooks`: a directory of Markdown runbooks with front matter.
"""
