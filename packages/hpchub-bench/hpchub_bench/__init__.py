"""make bench's reference spawner (stock batchspawner's start-up on our hub): not part of the production
spawner; jupyterhub_config.py imports it only where the inventory sets jupyterhub_bench_profiles."""
