"""hub_config/hpchub/slurm_limits.py on output captured from the test cluster's Slurm 22.05."""

from __future__ import annotations

from hpchub.slurm_limits import (
    Associations,
    Availability,
    parse_account_gpus,
    parse_associations,
    parse_availability,
    parse_qos_max_wall,
    parse_sinfo,
)

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


def test_gpus_per_node_from_sinfos_gres_forms():
    text = "gpu|2|8192|4:00:00|1|gpu:2\na100|64|256000|1-00:00:00|2|gpu:a100:4(S:0-1)\ncpu|2|8192|1:00:00|2|(null)\n"
    partitions = parse_sinfo(text)
    assert [partitions[name].max_gpus_per_node for name in ("gpu", "a100", "cpu")] == [2, 4, 0]


def test_account_gpu_limits_the_users_own_over_the_projects():
    # `sacctmgr -nP show assoc where cluster=hpclocal account=m1000,m2000 format=account,user,maxtres`
    text = "m1000||gres/gpu=2\nm1000|alice|\nm1000|bob|\nm2000||cpu=8,gres/gpu=0\nm2000|bob|gres/gpu=1\nm3000||\n"
    assert parse_account_gpus(text, "alice") == {"m1000": 2, "m2000": 0}
    assert parse_account_gpus(text, "bob") == {"m1000": 2, "m2000": 1}  # bob's own limit in m2000


def test_availability_sums_each_partitions_lines_and_counts_waiting_jobs():
    # `sinfo --noheader --format=%R|%C|%t|%D` and `squeue --noheader --states=PENDING --format=%P`
    load = "debug|1/1/0/2|mix|1\ndebug|0/2/0/2|idle|1\ngpu|0/2/0/2|idle~|1\ninteractive|2/0/0/2|alloc|1\n"
    pending = "debug\ndebug,interactive\ninteractive\n"
    now = parse_availability(load, pending)
    assert now == {
        "debug": Availability(idle_nodes=1, idle_cpus=3, cpus=4, pending_jobs=2),
        "gpu": Availability(1, 2, 2, 0),  # a powered-down idle node (idle~) is idle
        "interactive": Availability(0, 0, 2, 2),
    }
    assert now["debug"].describe() == "now 3 of 4 CPUs free, 1 idle node, 2 jobs waiting"
