"""prefect-ibmq on IBM Quantum Platform (qiskit-ibm-runtime); :mod:`.local` reaches the local job service."""
