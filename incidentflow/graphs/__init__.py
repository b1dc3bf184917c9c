"""The service graph as the user's system says it is: declared (a catalog), learned, or both.

`edges` holds the typed learned edge and the merge rule (the catalog wins on conflicts);
`spans`, `labels` and `prometheus` each learn edges from one kind of input behind the small
`EdgeLearner` interface; `book` keeps the merged graph cached and refreshed on a bounded
schedule for the agents' activities. Nothing here touches the network at import or when built.
"""
