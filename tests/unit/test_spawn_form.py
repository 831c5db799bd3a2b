"""The spawn form's view-model (hpchub.spawn_form.form_view) as data: what the form offers, before any HTML;
tests/unit/test_spawner.py checks the rendered form through the spawner."""

from __future__ import annotations

from hpchub.places import load_places
from hpchub.slurm_limits import Availability, Limits, PartitionLimits
from hpchub.spawn_form import NO_ACCOUNT, NO_PLACE, Field, form_view, render

LIMITS = Limits(
    partitions={"debug": PartitionLimits("debug", 2, 2, 2048, 60), "gpu": PartitionLimits("gpu", 1, 8, 8192, 240, 2)},
    accounts=("m1000", "m2000"),
    qos=("normal",),
    default_partition="debug",
    account_max_gpus={"m1000": 1},
)


def test_without_places_the_form_offers_the_partitions_and_slurms_bounds():
    view = form_view(LIMITS, {"debug": Availability(1, 2, 4, 3)}, {}, {})
    assert view.fields[0] == Field("partition", "Partition", "debug", ("debug", "gpu"))
    assert Field("cpus", "CPUs per node", 1, low=1, high=2) in view.fields
    # GPUs as far as the user's projects allow: m1000's 1, m2000 sets none (the partition's 2).
    assert view.fields[-1] == Field("gpus", "GPUs per node", 0, low=0, high=2)
    assert view.notes[0] == "debug: up to 2 nodes, 2 CPUs and 2048 MB per node, 60 min " \
        "(now 2 of 4 CPUs free, 1 idle node, 3 jobs waiting)"  # fmt: skip
    assert not view.places and not view.alert


def test_the_last_options_are_kept_where_slurm_allows_them_and_gpus_asked_anew():
    view = form_view(LIMITS, {}, {"partition": "gpu", "account": "m2000", "cpus": "6", "gpus": "2"}, {})
    chosen = {field.name: field.value for field in view.fields}
    assert (chosen["partition"], chosen["account"], chosen["cpus"], chosen["gpus"]) == ("gpu", "m2000", 6, 0)


def test_places_each_with_its_fields_and_the_rest_under_advanced():
    places = load_places(
        [
            {"name": "quick", "partition": "debug", "defaults": {"time": 20}},
            {"name": "big", "partition": "gpu", "description": "GPUs", "defaults": {"gpus": 1}},
        ]
    )
    limits = Limits(**{**LIMITS.__dict__, "places": {place.name: place for place in places}})
    view = form_view(limits, {}, {}, {"big": {"cpus": "4", "gpus": "1"}})
    assert [(p.name, p.label, p.selected) for p in view.places] == [("quick", "quick: debug", True),
                                                                    ("big", "big: GPUs", False)]  # fmt: skip
    assert view.places[1].fields["cpus"] == {"min": 1, "max": 8, "value": 4}
    assert [field.name for field in view.fields] == ["cpus", "memory", "time", "gpus"]
    assert [field.name for field in view.advanced] == ["account", "qos", "nodes"]


def test_alerts_instead_of_a_form():
    assert form_view(Limits(LIMITS.partitions, (), ("normal",)), {}, {}, {}).alert == NO_ACCOUNT
    gpu_only = load_places([{"name": "big", "partition": "gpu", "defaults": {"gpus": 1}, "ranges": {"gpus": [1, 2]}}])
    limits = Limits(**{**LIMITS.__dict__, "account_max_gpus": {"m1000": 0, "m2000": 0},
                       "places": {"big": gpu_only[0]}})  # fmt: skip
    view = form_view(limits, {}, {}, {})
    assert view.alert == NO_PLACE
    assert render(view) == f'<p class="alert alert-danger">{NO_PLACE}</p>'


def test_the_rendering_escapes_every_value():
    hostile = Limits({"debug": PartitionLimits("debug", 1, 1, 1024, 60)}, ('m1"><script>',), ("normal",))
    html = render(form_view(hostile, {}, {}, {}))
    assert "<script>" not in html and "m1&#34;&gt;&lt;script&gt;" in html
