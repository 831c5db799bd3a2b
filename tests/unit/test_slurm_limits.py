"""hub_config/hpchub/slurm_limits.py on output captured from the test cluster's Slurm 22.05."""

from __future__ import annotations

from hpchub.slurm_limits import Associations, parse_associations, parse_qos_max_wall, parse_sinfo

SINFO = "debug|2|2048|1:00:00|2|(null)\ninteractive|2|2048|8:00:00|2|(null)\n"


def test_partitions_from_sinfo():
    partitions = parse_sinfo(SINFO)
    assert set(partitions) == {"debug", "interactive"}
    debug = partitions["debug"]
    assert (debug.max_nodes, debug.max_cpus_per_node, debug.max_memory_mb_per_node) == (2, 2, 2048)
    assert (debug.max_time_minutes, partitions["interactive"].max_time_minutes, debug.max_gpus_per_node) == (60, 480, 0)


def test_mixed_nodes_promise_what_every_node_has():
    text = "gpu|64|256000|2-00:00:00|4|gpu:a100:4\ngpu|32+|128000|2-00:00:00|2|gpu:a100:2\n"
    gpu = parse_sinfo(text)["gpu"]
    assert (gpu.max_nodes, gpu.max_cpus_per_node, gpu.max_memory_mb_per_node) == (6, 32, 128000)
    assert (gpu.max_time_minutes, gpu.max_gpus_per_node) == (2880, 2)


def test_unlimited_time():
    assert parse_sinfo("long|4|1000|infinite|1|(null)\n")["long"].max_time_minutes == 365 * 1440


def test_associations_from_sacctmgr():
    # Captured from `sacctmgr -nP show user withassoc where name=zoltan ... format=defaultaccount,account,qos,
    # defaultqos`: Slurm lists phy01 first, but the user's default account is phy02, and it comes first.
    said = "phy02|phy01|quick,standard|standard\nphy02|phy02|quick,standard|standard\n"
    assert parse_associations(said) == Associations(("phy02", "phy01"), ("quick", "standard"), "standard")
    assert parse_associations("") == Associations()


def test_qos_max_wall_from_sacctmgr():
    assert parse_qos_max_wall("normal|\nstandard|\nquick|00:10:00\nlong|2-00:00:00\nx|UNLIMITED\n") == {
        "quick": 10,
        "long": 2880,
    }
