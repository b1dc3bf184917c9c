"""The webhook: wire formats in, alert batches durably accepted by Temporal out."""
