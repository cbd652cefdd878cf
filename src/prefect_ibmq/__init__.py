"""prefect-ibmq: quantum jobs as first-class Prefect work."""
