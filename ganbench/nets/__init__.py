"""Network architectures, registered in :data:`ganbench.registry.NETS`."""
