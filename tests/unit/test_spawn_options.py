"""hub_config/hpchub/options.py: the one parser of spawn options (form and REST)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hpchub.options import (
    OptionsError,
    memory_field_mb,
    parse_options,
    sbatch_directives,
    time_field_minutes,
)
from hpchub.places import Environment, Kernel, PlacesError, kernel_specs, load_environments, load_places, load_site
from hpchub.slurm_limits import Limits, PartitionLimits

LIMITS = Limits(
    partitions={
        "debug": PartitionLimits(
            "debug", max_nodes=2, max_cpus_per_node=2, max_memory_mb_per_node=2048, max_time_minutes=60
        ),
        "interactive": PartitionLimits("interactive", 2, 2, 2048, 480),
    },
    accounts=("m1000", "m2000"),
    qos=("normal", "debug"),
    default_partition="debug",
)


def test_defaults_when_nothing_is_asked():
    options = parse_options({}, LIMITS)
    assert (options.partition, options.account, options.qos) == ("debug", "m1000", "normal")
    assert (options.nodes, options.cpus, options.memory_mb, options.time_minutes) == (1, 1, 1024, 60)


# A site whose QoS are not Slurm's usual names: quick has a MaxWall of 10 minutes (tests/production/local-site).
SITE = Limits(
    partitions={"jupyter": PartitionLimits("jupyter", 3, 2, 4096, 240)},
    accounts=("phy02", "phy01"),
    qos=("quick", "standard"),
    default_partition="jupyter",
    default_qos="standard",
    qos_max_minutes={"quick": 10},
)


def test_the_associations_default_qos_is_the_default_not_slurms_first():
    options = parse_options({}, SITE)
    assert (options.account, options.qos, options.time_minutes) == ("phy02", "standard", 60)


def test_a_time_longer_than_the_qos_allows_is_refused_in_the_form_not_left_pending():
    with pytest.raises(OptionsError) as refused:
        parse_options({"qos": "quick", "time": "60"}, SITE)
    assert refused.value.field == "time" and "from 1 to 10 minutes with QoS quick" in refused.value.message
    assert parse_options({"qos": "quick"}, SITE).time_minutes == 10  # the default time fits the QoS
    assert parse_options({"qos": "standard", "time": "240"}, SITE).time_minutes == 240


def test_without_a_default_qos_normal_then_slurms_first():
    assert parse_options({}, LIMITS).qos == "normal"
    assert parse_options({}, Limits(SITE.partitions, ("phy01",), ("quick", "standard"))).qos == "quick"


def test_form_values_are_lists_of_strings():
    form = {"partition": ["interactive"], "account": ["m2000"], "cpus": ["2"], "memory": ["2G"], "time": ["2:00:00"]}
    options = parse_options(form, LIMITS)
    assert (options.partition, options.account, options.cpus, options.memory_mb, options.time_minutes) == (
        "interactive", "m2000", 2, 2048, 120)  # fmt: skip


def test_rest_values_may_be_numbers():
    assert parse_options({"cpus": 2, "time": 30}, LIMITS).cpus == 2


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"cpus": "-1"}, "cpus", "whole number"),
        ({"cpus": 3}, "cpus", "from 1 to 2"),
        ({"cpus": "99999999999"}, "cpus", "whole number"),
        ({"partition": "nosuch"}, "partition", "not one of yours"),
        ({"account": "m3000"}, "account", "not one of yours"),
        ({"account": "m1000\n#SBATCH --uid=0"}, "account", "one line"),
        ({"partition": "debug --uid=0"}, "partition", "not one of yours"),
        ({"qos": "$(reboot)"}, "qos", "not one of yours"),
        ({"memory": "3G"}, "memory", "at most 2048M"),
        ({"time": "2:00:00"}, "time", "1 to 60"),
        ({"time": "1:00:00; rm -rf /"}, "time", "minutes"),
        ({"gpus": 1}, "gpus", "from 0 to 0"),
        ({"reservation": "maint"}, "reservation", "not one of yours"),
        ({"cpus": ["1", "2"]}, "cpus", "one value"),
        ({"cpus": True}, "cpus", "number or a name"),
        ({"cpus": {"$gt": 1}}, "cpus", "number or a name"),
        ({"command": "bash"}, "command", "not a spawn option"),
        ({"nodes": "\uff11"}, "nodes", "whole number"),  # a full-width digit is not a digit here
    ],
)
def test_bad_values_are_refused_naming_the_field(raw, field, words):
    with pytest.raises(OptionsError) as refused:
        parse_options(raw, LIMITS)
    assert refused.value.field == field and words in refused.value.message


def test_a_user_without_an_account_is_told_so():
    with pytest.raises(OptionsError, match="no Slurm account"):
        parse_options({}, Limits(partitions=LIMITS.partitions, accounts=(), qos=("normal",)))


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30", 30), ("30:15", 31), ("01:00:00", 60), ("2:30:00", 150), ("1-0", 1440), ("1-02:03", 1563), ("0-0:0:1", 1)],
)
def test_slurm_time_forms(text, minutes):
    assert time_field_minutes(text) == minutes


@pytest.mark.parametrize("text", ["UNLIMITED", "infinite", "1:2:3:4", "-5", "1h"])
def test_a_time_field_without_a_limit_or_form_is_refused_naming_the_field(text):
    with pytest.raises(OptionsError) as refused:
        time_field_minutes(text)
    assert refused.value.field == "time"


@pytest.mark.parametrize(("text", "mb"), [("512", 512), ("512M", 512), ("2G", 2048), ("2g", 2048), ("1T", 1048576)])
def test_memory_forms(text, mb):
    assert memory_field_mb(text) == mb


def test_sbatch_directives_are_single_safe_lines():
    options = parse_options({"partition": "interactive", "cpus": 2, "time": "0-08:00:00"}, LIMITS)
    lines = sbatch_directives(options)
    assert "#SBATCH --time=08:00:00" in lines and "#SBATCH --cpus-per-task=2" in lines
    assert all("\n" not in line and line.startswith("#SBATCH --") for line in lines)


GPU_LIMITS = Limits(
    partitions={"debug": LIMITS.partitions["debug"], "gpu": PartitionLimits("gpu", 1, 2, 8192, 240, 2)},
    accounts=("m1000", "m2000", "m3000"),
    qos=("normal",),
    default_partition="debug",
    account_max_gpus={"m1000": 2, "m2000": 0},  # m3000 sets no limit
)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"partition": "gpu", "account": "m2000", "gpus": "1"}, "project m2000 allows no GPUs"),
        ({"partition": "gpu", "account": "m1000", "gpus": "3"}, "must be from 0 to 2"),  # the node has 2
        ({"partition": "debug", "account": "m1000", "gpus": "1"}, "must be from 0 to 0"),  # no GPU in debug
    ],
)
def test_gpus_beyond_the_projects_or_the_nodes_allowance_are_refused(raw, words):
    with pytest.raises(OptionsError) as refused:
        parse_options(raw, GPU_LIMITS)
    assert refused.value.field == "gpus" and words in refused.value.message


def test_gpus_within_the_allowance_become_a_directive():
    options = parse_options({"partition": "gpu", "account": "m3000", "gpus": "2"}, GPU_LIMITS)
    assert "#SBATCH --gpus-per-node=2" in sbatch_directives(options)
    assert parse_options({"partition": "gpu", "account": "m2000"}, GPU_LIMITS).gpus == 0  # the node, no GPU


# Places (site_places, hpchub/places.py): a partition with a description, defaults, ranges and a kernel.
PLACES = load_places(
    [
        {
            "name": "login",
            "partition": "interactive",
            "kind": "login",
            "description": "Login node",
            "defaults": {"cpus": 1, "memory": 2048, "time": 1440},
            "ranges": {"cpus": [1, 2], "memory": [256, 2048]},
        },
        {"name": "compute", "partition": "debug", "defaults": {"time": 30}},
        {"name": "big", "partition": "debug", "defaults": {"cpus": 2}, "ranges": {"cpus": [2, 2]}},
    ]
)
WITH_PLACES = replace(LIMITS, places={place.name: place for place in PLACES})


def test_a_place_gives_its_partition_and_its_defaults():
    options = parse_options({"place": "login"}, replace(WITH_PLACES, partitions={**LIMITS.partitions,
        "interactive": PartitionLimits("interactive", 2, 2, 2048, 10080)}))  # fmt: skip
    assert (options.place, options.partition, options.cpus, options.memory_mb, options.time_minutes) == (
        "login", "interactive", 1, 2048, 1440)  # fmt: skip
    assert parse_options({}, WITH_PLACES).place == "compute"  # the place of the default partition
    assert parse_options({"place": "big"}, WITH_PLACES).cpus == 2  # a default within the range


def test_a_places_ranges_narrow_slurms_and_the_error_names_the_place():
    with pytest.raises(OptionsError, match=r"memory: must be from 256M to 2048M at login"):
        parse_options({"place": "login", "memory": "100M"}, WITH_PLACES)
    with pytest.raises(OptionsError, match=r"cpus: must be from 2 to 2 \(asked 1\)"):
        parse_options({"place": "big", "cpus": "1"}, WITH_PLACES)
    with pytest.raises(OptionsError, match=r"time: must be from 1 to 480 minutes in interactive"):
        parse_options({"place": "login", "time": "600"}, WITH_PLACES)  # Slurm's bound, named as before


def test_a_rest_client_naming_a_partition_gets_its_place_and_a_mismatch_is_refused():
    assert parse_options({"partition": "interactive"}, WITH_PLACES).place == "login"
    assert parse_options({"partition": "interactive"}, WITH_PLACES).time_minutes == 480  # its 1440, within Slurm's
    with pytest.raises(OptionsError, match="place compute runs in partition debug"):
        parse_options({"place": "compute", "partition": "interactive"}, WITH_PLACES)
    with pytest.raises(OptionsError, match="'gpu' is not offered here: choose a place"):
        parse_options({"partition": "gpu"}, WITH_PLACES)
    with pytest.raises(OptionsError, match="place: 'moon' is not one of yours"):
        parse_options({"place": "moon"}, WITH_PLACES)


ENVIRONMENTS = load_environments([
    {"name": "default", "prefix": "/opt/jupyter"},
    {"name": "numpy1", "prefix": "/global/common/software/jupyter/numpy1/", "lock": "numpy1.txt", "shared": True},
])  # fmt: skip


def test_a_place_offers_the_environments_it_names_and_the_sites_first_by_default():
    places = load_places([{"name": "a", "partition": "debug", "environments": ["numpy1", "default"]},
                          {"name": "b", "partition": "interactive"}], environments=ENVIRONMENTS)  # fmt: skip
    assert [place.environments for place in places] == [("numpy1", "default"), ("default",)]
    assert ENVIRONMENTS[1] == Environment("numpy1", "/global/common/software/jupyter/numpy1", "", "numpy1.txt", True)
    limits = replace(LIMITS, places={place.name: place for place in places})
    assert parse_options({"place": "a"}, limits).environment == "numpy1"
    assert parse_options({"place": "a", "environment": "default"}, limits).environment == "default"
    with pytest.raises(OptionsError, match=r"environment: 'numpy1' is not offered at b \(offered there: default\)"):
        parse_options({"place": "b", "environment": "numpy1"}, limits)
    with pytest.raises(OptionsError, match="this site offers no choice of environment"):
        parse_options({"environment": "numpy1"}, LIMITS)
    assert parse_options({}, LIMITS).environment == ""


@pytest.mark.parametrize(
    ("environments", "places", "named"),
    [
        ([{"name": "A", "prefix": "/x"}], [], "site_environments[0].name"),
        ([{"name": "a", "prefix": "x"}], [], "site_environments[0].prefix"),
        ([{"name": "a", "prefix": "/x/../y"}], [], "site_environments[0].prefix"),
        ([{"name": "a", "prefix": "/x; rm"}], [], "site_environments[0].prefix"),
        ([{"name": "a", "prefix": "/x"}, {"name": "b", "prefix": "/x"}], [], "site_environments[1].prefix"),
        ([{"name": "a", "prefix": "/x"}, {"name": "a", "prefix": "/y"}], [], "site_environments[1].name"),
        ([{"name": "a", "prefix": "/x", "shared": "yes"}], [], "site_environments[0].shared"),
        ([{"name": "a", "prefix": "/x", "image": "x"}], [], "site_environments[0].image"),
        ([{"name": "a", "prefix": "/x", "modules": "gcc"}], [], "site_environments[0].modules"),
        ([{"name": "a", "prefix": "/x", "modules": ["gcc; id"]}], [], "site_environments[0].modules"),
        ([{"name": "a", "prefix": "/x", "modules": ["$(id)"]}], [], "site_environments[0].modules"),
        ("a", [], "site_environments"),
        ([{"name": "a", "prefix": "/x"}], None, "site_environments"),
        ([{"name": "a", "prefix": "/x"}], [{"name": "p", "partition": "p", "environments": ["b"]}],
         "site_places[0].environments"),
        ([{"name": "a", "prefix": "/x"}], [{"name": "p", "partition": "p", "environments": ["a", "a"]}],
         "site_places[0].environments"),
        ([], [{"name": "p", "partition": "p", "environments": ["a"]}], "site_places[0].environments"),
    ],
)  # fmt: skip
def test_a_wrong_environment_is_refused_naming_it(environments, places, named):
    with pytest.raises(PlacesError, match=rf"^{re.escape(named)}: "):
        load_site(places, environments)


def test_without_places_a_place_is_not_asked_for():
    assert parse_options({}, LIMITS).place == ""


@pytest.mark.parametrize(
    ("places", "named"),
    [
        ([{"name": "Login", "partition": "p"}], "site_places[0].name"),
        ([{"name": "a", "partition": "p"}, {"name": "a", "partition": "q"}], "site_places[1].name"),
        ([{"name": "a", "partition": "p;x"}], "site_places[0].partition"),
        ([{"name": "a", "partition": "p", "kind": "cloud"}], "site_places[0].kind"),
        ([{"name": "a", "partition": "p", "defaults": {"shell": "x"}}], "site_places[0].defaults.shell"),
        ([{"name": "a", "partition": "p", "ranges": {"cpus": [4, 2]}}], "site_places[0].ranges.cpus"),
        ([{"name": "a", "partition": "p", "ranges": {"cpus": "1-2"}}], "site_places[0].ranges.cpus"),
        ([{"name": "a", "partition": "p", "colour": "red"}], "site_places[0].colour"),
        ("login", "site_places"),
    ],
)
def test_a_wrong_place_is_refused_naming_it(places, named):
    with pytest.raises(PlacesError, match=rf"^{re.escape(named)}: "):
        load_places(places)


def test_a_places_kernel_is_one_schema_and_one_unit_convention():
    places = load_places([
        {"name": "debug", "partition": "debug", "kernel": {"cpus": 2, "time": "00:30:00", "memory": "4 GB"}},
        {"name": "gpu", "partition": "gpu", "kernel": {"gpus": 1, "time": 45, "memory": 1536, "qos": "high",
                                                       "display_name": "GPU kernel"}},
        {"name": "login", "partition": "login"},
    ])  # fmt: skip
    assert places[0].kernel == Kernel(cpus=2, time_minutes=30, memory_mb=4096)
    assert places[2].kernel is None
    assert kernel_specs(places) == [
        {"name": "debug", "partition": "debug", "cpus": 2, "time": 30, "memory": "4G", "gpus": 0, "qos": "",
         "display_name": ""},
        {"name": "gpu", "partition": "gpu", "cpus": 1, "time": 45, "memory": "1536M", "gpus": 1, "qos": "high",
         "display_name": "GPU kernel"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kernel", "named"),
    [
        ({"cpus": 0}, "site_places[0].kernel.cpus"),
        ({"cpus": True}, "site_places[0].kernel.cpus"),
        ({"time": "UNLIMITED"}, "site_places[0].kernel.time"),
        ({"time": "soon"}, "site_places[0].kernel.time"),
        ({"memory": "lots"}, "site_places[0].kernel.memory"),
        ({"qos": "a b"}, "site_places[0].kernel.qos"),
        ({"shell": "zsh"}, "site_places[0].kernel.shell"),
        ("big", "site_places[0].kernel"),
    ],
)
def test_a_wrong_kernel_is_refused_naming_it(kernel, named):
    with pytest.raises(PlacesError, match=rf"^{re.escape(named)}: "):
        load_places([{"name": "a", "partition": "p", "kernel": kernel}])
