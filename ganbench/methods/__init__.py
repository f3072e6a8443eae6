"""GAN methods, one module each, registered in :data:`ganbench.registry.METHODS`."""
