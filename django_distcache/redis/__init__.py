"""Redis access beyond one server: a Django cache on Redis Cluster, sharding, key routing."""
