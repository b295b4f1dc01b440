"""Redis access: Redis Cluster, sharding, key routing, and the check of new connections."""
