"""The hub's spawner (hub_config/hpchub/spawner.py) in-process against the fake Slurm (tests/support/fake_slurm.py).

Spawn options from the form and REST down to the batch script's #SBATCH lines, the options form, submit
refusals, start-up (pending, running, the port reported, the server listening; a job that ends on the
way), progress messages, poll (squeue first, sacct deciding; the ghost rule; a user the system does not
know yet) and stop (scancel, and its background retry while the controller does not answer).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import pwd
import re
import socket

import pytest
from hpc_slurm import SlurmNotAnswering, arun
from hpchub import spawner as spawner_module
from hpchub.options import SpawnOptions, parse_options
from hpchub.places import PlacesError
from hpchub.slurm_limits import Limits, PartitionLimits
from hpchub.spawner import HpcSlurmSpawner, as_user_options
from tornado.web import HTTPError

from tests.support.fake_slurm import CONTROLLER_DOWN
from tests.unit.conftest import ASSOCIATIONS, HOME, LAUNCHER, SERVER_CMD, USER, until

REFUSED = "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified"
SBATCH_UNREACHABLE = "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"
SQUEUE_BROKEN = "slurm_load_jobs error: Zero Bytes were transmitted or received"  # not batchspawner's "unknown"
SACCT_DOWN = "sacct: error: Problem talking to the database: Connection refused"
SCANCEL_UNREACHABLE = (
    "scancel: error: Kill job error on job id {job}: Unable to contact slurm controller (connect failure)"
)


async def submitted(spawner: HpcSlurmSpawner, options: dict | None = None) -> str:
    """Check `options` as the hub does, then submit: the job id."""
    await spawner._run_apply_user_options(options or {})
    return await spawner.submit_batch_script()


def free_port() -> socket.socket:
    """A bound socket nothing listens on (yet): its port refuses connections."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


# Spawn options: the form and REST, one parser, down to the batch script.


def test_form_values_become_spawn_options_and_sbatch_directives(make_spawner, fake_slurm):
    spawner = make_spawner()
    form = {"partition": ["interactive"], "account": ["m2000"], "cpus": ["4"], "memory": ["4G"],
            "time": ["2:00:00"], "gpus": ["1"], "_xsrf": ["a-token"]}  # fmt: skip

    async def scenario():
        user_options = await spawner.run_options_from_form(form)
        return user_options, await submitted(spawner, user_options)

    user_options, job = asyncio.run(scenario())
    assert user_options == {"partition": "interactive", "account": "m2000", "qos": "normal", "nodes": "1",
                            "cpus": "4", "memory": "4096M", "time": "120", "gpus": "1"}  # fmt: skip
    assert spawner.spawn_options == SpawnOptions("interactive", "m2000", "normal", 1, 4, 4096, 120, 1)
    script = fake_slurm.script(job)
    for line in ("--partition=interactive", "--account=m2000", "--qos=normal", "--cpus-per-task=4",
                 "--mem=4G", "--time=02:00:00", "--gpus-per-node=1", f"--job-name=jupyter-{USER}"):  # fmt: skip
        assert f"#SBATCH {line}\n" in script
    assert f"#SBATCH --output={HOME}/.jupyterhub-slurm-%j.log\n" in script
    assert script.rstrip().endswith(f"{LAUNCHER} {SERVER_CMD}")
    assert fake_slurm.calls("sbatch") == [["--parsable"]]


def test_a_named_servers_job_carries_its_name(make_spawner, fake_slurm):
    spawner = make_spawner()
    spawner.orm_spawner.name = "gpu work/1"  # a named server's (more characters than a directive may hold)
    job = asyncio.run(submitted(spawner, {"partition": "interactive"}))
    assert f"#SBATCH --job-name=jupyter-{USER}-gpu_work_1\n" in fake_slurm.script(job)


def test_rest_values_may_be_json_numbers(make_spawner, fake_slurm):
    spawner = make_spawner()
    job = asyncio.run(submitted(spawner, {"partition": "interactive", "cpus": 2, "time": 30, "nodes": 2}))
    assert spawner.spawn_options == SpawnOptions("interactive", "m1000", "normal", nodes=2, cpus=2, time_minutes=30)
    assert "#SBATCH --nodes=2\n#SBATCH --cpus-per-task=2\n" in fake_slurm.script(job)
    assert "#SBATCH --time=00:30:00\n" in fake_slurm.script(job)


@pytest.mark.parametrize(
    ("via", "raw", "field"),
    [
        ("form", {"cpus": ["3"]}, "cpus"),  # debug allows 2
        ("form", {"account": ["m3000"], "_xsrf": ["t"]}, "account"),
        ("rest", {"partition": "debug --uid=0"}, "partition"),
        ("rest", {"memory": "3G"}, "memory"),
        ("rest", {"batch_submit_cmd": "id"}, "batch_submit_cmd"),
    ],
)
def test_a_bad_value_is_refused_with_400_naming_the_field(make_spawner, fake_slurm, via, raw, field):
    spawner = make_spawner()
    check = spawner.run_options_from_form if via == "form" else spawner._run_apply_user_options
    with pytest.raises(HTTPError) as refused:
        asyncio.run(check(raw))
    assert refused.value.status_code == 400
    assert refused.value.log_message.startswith(f"{field}: ")
    assert spawner.spawn_options is None and fake_slurm.calls("sbatch") == []


def test_slurm_unavailable_while_reading_limits_is_503(make_spawner, fake_slurm):
    fake_slurm.fail("sinfo", f"sinfo: error: {CONTROLLER_DOWN}")
    spawner = make_spawner()

    async def scenario():
        try:
            await spawner._run_apply_user_options({})
        finally:  # sacctmgr, read alongside sinfo, still runs: let it end before the loop closes
            await until("sacctmgr answered", lambda: len(asyncio.all_tasks()) == 1)

    with pytest.raises(HTTPError) as unavailable:
        asyncio.run(scenario())
    assert unavailable.value.status_code == 503 and "try again" in unavailable.value.log_message


def test_limits_are_read_once_per_ttl_for_a_user(make_spawner, fake_slurm):
    spawner = make_spawner()

    async def twice():
        await spawner._run_apply_user_options({})
        await spawner._run_apply_user_options({"cpus": 2})

    asyncio.run(twice())
    # associations, QoS, and the GPU limits of the user's projects (the fake's interactive partition has GPUs)
    assert len(fake_slurm.calls("sinfo")) == 1 and len(fake_slurm.calls("sacctmgr")) == 3
    associations = next(argv for argv in fake_slurm.calls("sacctmgr") if "withassoc" in argv)
    assert [word for word in associations if "=" in word][:2] == [f"name={USER}", "cluster=test"]


def test_the_form_shows_the_users_partitions_accounts_and_limits(make_spawner):
    form = asyncio.run(make_spawner().get_options_form())
    assert '<option value="debug" selected>debug</option><option value="interactive">' in form
    assert '<option value="m1000" selected>m1000</option><option value="m2000">m2000</option>' in form
    assert '<option value="normal" selected>normal</option>' in form
    assert 'name="cpus" id="cpus" min="1" max="2" value="1"' in form  # the default partition's limits
    assert "interactive: up to 2 nodes, 4 CPUs and 4096 MB per node, 480 min, 2 GPUs per node" in form
    assert 'name="gpus" id="gpus" min="0" max="2" value="0"' in form  # no project of the user limits GPUs


def test_the_form_shows_each_partitions_availability_from_one_cached_sinfo_and_squeue(make_spawner, fake_slurm):
    fake_slurm.set_load("debug|1/3/0/4|mix|2\ninteractive|4/0/0/4|alloc|2\n", "interactive\ninteractive\n")
    form = asyncio.run(make_spawner().get_options_form())
    assert (
        "debug: up to 2 nodes, 2 CPUs and 2048 MB per node, 60 min (now 3 of 4 CPUs free, 0 idle nodes, 0 jobs" in form
    )
    assert "(now 0 of 4 CPUs free, 0 idle nodes, 2 jobs waiting)" in form
    asyncio.run(make_spawner().get_options_form())  # another user's form, within the cache's 10 s
    assert len([argv for argv in fake_slurm.calls("sinfo") if "--format=%R|%C|%t|%D" in argv]) == 1
    assert len([argv for argv in fake_slurm.calls("squeue") if "--states=PENDING" in argv]) == 1


def test_the_form_goes_without_availability_when_slurm_does_not_answer(make_spawner, fake_slurm):
    fake_slurm.set_load("debug|1/3/0/4|mix|2\n")
    fake_slurm.fail("squeue", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)")
    form = asyncio.run(make_spawner().get_options_form())
    assert 'name="partition"' in form and "(now" not in form


def test_the_form_offers_gpus_only_as_far_as_the_users_projects_allow(make_spawner, fake_slurm):
    fake_slurm.set_account_limits("m1000||gres/gpu=1\nm2000||gres/gpu=0\n")
    form = asyncio.run(make_spawner().get_options_form())
    assert 'name="gpus" id="gpus" min="0" max="1" value="0"' in form
    fake_slurm.set_account_limits("m1000||gres/gpu=0\nm2000||gres/gpu=0\n")
    form = asyncio.run(make_spawner(limits_ttl=0).get_options_form())
    assert 'name="gpus"' not in form


def test_the_form_starts_from_the_servers_last_choices_where_slurm_still_allows_them(make_spawner):
    spawner = make_spawner()
    spawner.user_options = {"partition": "interactive", "account": "m2000", "cpus": "3", "time": "90", "gpus": "1"}
    form = asyncio.run(spawner.get_options_form())
    assert '<option value="interactive" selected>' in form and '<option value="m2000" selected>' in form
    assert (
        'name="cpus" id="cpus" min="1" max="4" value="3"' in form and 'name="time" id="time" min="1" max="480"' in form
    )
    assert 'value="90"' in form and 'name="gpus" id="gpus" min="0" max="2" value="0"' in form  # GPUs: asked anew
    spawner.user_options = {"partition": "gone"}  # a partition since removed: Slurm's defaults again
    form = asyncio.run(spawner.get_options_form())
    assert '<option value="debug" selected>' in form


SITE_PLACES = [
    {"name": "shared", "partition": "interactive", "kind": "compute", "description": "A shared node",
     "defaults": {"cpus": 2, "time": 240}, "ranges": {"cpus": [1, 3]}},
    {"name": "quick", "partition": "debug", "description": "Your own node", "defaults": {"time": 20}},
]  # fmt: skip


def test_the_form_of_a_site_with_places_offers_them_with_their_fields_and_the_rest_as_advanced(make_spawner):
    form = asyncio.run(make_spawner(places=SITE_PLACES).get_options_form())
    assert 'name="place" id="place"' in form and 'name="partition"' not in form
    assert '<option value="quick" data-fields=' in form and " selected>quick: Your own node</option>" in form
    assert ">shared: A shared node</option>" in form
    assert 'name="time" id="time" min="1" max="60" value="20"' in form  # quick's default (the default partition)
    fields = json.loads(html.unescape(re.search(r'value="shared" data-fields="([^"]*)"', form).group(1)))
    assert fields["cpus"] == {"min": 1, "max": 3, "value": 2} and fields["time"] == {"min": 1, "max": 480, "value": 240}
    assert form.index('<details id="advanced">') < form.index('name="account"') < form.index("</details>")
    assert "interactive: up to 2 nodes" in form and "<script>" in form  # Slurm's limits; the place switcher


def test_a_places_last_choices_are_remembered_per_place_across_a_hub_restart(make_spawner):
    spawner = make_spawner(places=SITE_PLACES)
    asyncio.run(spawner._run_apply_user_options({"place": "shared", "cpus": "3", "time": "300"}))
    asyncio.run(spawner._run_apply_user_options({"place": "quick", "time": "45"}))
    state = spawner.get_state()
    assert state["last_choices"]["shared"]["cpus"] == "3" and state["last_choices"]["quick"]["time"] == "45"
    again = make_spawner(places=SITE_PLACES)  # the hub restarted: the spawner comes back from its state
    again.load_state(state)
    again.clear_state()  # a stopped server's state is cleared: its last choices stay
    again.user_options = {"place": "quick", "time": "45"}
    form = asyncio.run(again.get_options_form())
    assert " selected>quick: Your own node</option>" in form and 'value="45"' in form
    fields = json.loads(html.unescape(re.search(r'value="shared" data-fields="([^"]*)"', form).group(1)))
    assert fields["cpus"]["value"] == 3 and fields["time"]["value"] == 300


def test_a_place_the_user_cannot_use_is_not_offered(make_spawner, fake_slurm):
    gpu = {"name": "gpu", "partition": "interactive", "defaults": {"gpus": 1}, "ranges": {"gpus": [1, 2]}}
    form = asyncio.run(make_spawner(places=[*SITE_PLACES, gpu]).get_options_form())
    assert '<option value="gpu"' in form
    fake_slurm.set_account_limits("m1000||gres/gpu=0\nm2000||gres/gpu=0\n")  # no project allows GPUs
    form = asyncio.run(make_spawner(places=[*SITE_PLACES, gpu], limits_ttl=0).get_options_form())
    assert '<option value="gpu"' not in form and '<option value="quick"' in form


SITE_ENVIRONMENTS = [
    {"name": "default", "prefix": "/opt/jupyter", "description": "The image's"},
    {"name": "numpy1", "prefix": "/global/common/software/jupyter/numpy1", "description": "numpy 1.26"},
]
PLACES_WITH_ENVIRONMENTS = [{**SITE_PLACES[0], "environments": ["default", "numpy1"]}, SITE_PLACES[1]]


def test_a_server_starts_in_the_environment_chosen_from_its_prefix(make_spawner, fake_slurm):
    spawner = make_spawner(places=PLACES_WITH_ENVIRONMENTS, environments=SITE_ENVIRONMENTS)
    job = asyncio.run(submitted(spawner, {"place": "shared", "environment": "numpy1"}))
    prefix = "/global/common/software/jupyter/numpy1"
    script = fake_slurm.script(job)
    assert script.rstrip().endswith(f"{prefix}/bin/python3 {prefix}/bin/hpchub-singleuser "
                                    f"{prefix}/bin/jupyterhub-singleuser")  # fmt: skip
    assert spawner.get_env()["HPCHUB_ENVIRONMENT"] == "numpy1"
    assert spawner.get_state()["last_choices"]["shared"]["environment"] == "numpy1"
    job = asyncio.run(submitted(spawner, {"place": "shared"}))  # the place's first: the default
    assert fake_slurm.script(job).rstrip().endswith("/opt/jupyter/bin/python3 /opt/jupyter/bin/hpchub-singleuser "
                                                    "/opt/jupyter/bin/jupyterhub-singleuser")  # fmt: skip
    assert spawner.get_env()["HPCHUB_ENVIRONMENT"] == "default"
    # The same spawner (the hub keeps it across a user's spawns) at a place that names no environments: not the
    # prefix of the spawn before.
    asyncio.run(submitted(spawner, {"place": "shared", "environment": "numpy1"}))
    job = asyncio.run(submitted(spawner, {"place": "quick"}))
    assert fake_slurm.script(job).rstrip().endswith("/opt/jupyter/bin/jupyterhub-singleuser")
    assert prefix not in fake_slurm.script(job)


def test_an_environments_modules_are_loaded_before_its_server_starts(make_spawner, fake_slurm):
    modular = [{**SITE_ENVIRONMENTS[0], "modules": ["gcc/12.2", "site-defaults"]}, SITE_ENVIRONMENTS[1]]
    spawner = make_spawner(places=PLACES_WITH_ENVIRONMENTS, environments=modular)
    job = asyncio.run(submitted(spawner, {"place": "shared"}))
    assert fake_slurm.script(job).rstrip().endswith(
        "/bin/bash -lc 'module load gcc/12.2 site-defaults && exec \"$0\" \"$@\"' /opt/jupyter/bin/python3 "
        "/opt/jupyter/bin/hpchub-singleuser /opt/jupyter/bin/jupyterhub-singleuser")  # fmt: skip


def test_an_environment_not_offered_at_the_place_is_refused_before_slurm(make_spawner, fake_slurm):
    spawner = make_spawner(places=PLACES_WITH_ENVIRONMENTS, environments=SITE_ENVIRONMENTS)
    with pytest.raises(HTTPError) as refused:
        asyncio.run(submitted(spawner, {"place": "quick", "environment": "numpy1"}))
    assert refused.value.status_code == 400
    assert "environment: 'numpy1' is not offered at quick (offered there: default)" in refused.value.log_message
    assert fake_slurm.calls("sbatch") == []


def test_the_form_offers_each_places_environments_with_their_descriptions(make_spawner):
    spawner = make_spawner(places=PLACES_WITH_ENVIRONMENTS, environments=SITE_ENVIRONMENTS)
    spawner.user_options = {"place": "shared"}
    form = asyncio.run(spawner.get_options_form())
    assert 'name="environment" id="environment"' in form
    assert '<option value="default" selected>default: The image&#39;s</option>' in form
    assert '<option value="numpy1">numpy1: numpy 1.26</option>' in form
    fields = json.loads(html.unescape(re.search(r'value="quick" data-fields="([^"]*)"', form).group(1)))
    assert fields["environment"] == {"value": "default", "choices": [["default", "default: The image's"]]}


def test_a_wrong_place_in_the_hubs_settings_is_an_error_naming_it(make_spawner):
    with pytest.raises(PlacesError, match=r"site_places\[0\]\.kind"):
        asyncio.run(make_spawner(places=[{"name": "x", "partition": "debug", "kind": "moon"}]).get_options_form())


def test_a_user_without_an_account_gets_the_alert_instead_of_a_form(make_spawner, fake_slurm):
    fake_slurm.set_associations(USER, "")
    form = asyncio.run(make_spawner().get_options_form())
    assert "alert-danger" in form and "no Slurm account" in form and "<select" not in form


def test_a_user_given_an_account_gets_the_form_at_once_not_after_the_cache(make_spawner, fake_slurm):
    # The directory sync adds a new project member's association at any moment: "no account" is not cached.
    fake_slurm.set_associations(USER, "")
    assert "no Slurm account" in asyncio.run(make_spawner(limits_ttl=60).get_options_form())
    fake_slurm.set_associations(USER, ASSOCIATIONS)
    assert "<select" in asyncio.run(make_spawner(limits_ttl=60).get_options_form())
    sacctmgr_calls = len(fake_slurm.calls("sacctmgr"))
    asyncio.run(make_spawner(limits_ttl=60).get_options_form())
    assert len(fake_slurm.calls("sacctmgr")) == sacctmgr_calls  # a user with accounts is cached as before


def test_a_home_over_quota_refuses_the_spawn_with_403(make_spawner, fake_slurm):
    spawner = make_spawner(quota_command="sh -c 'echo Home of {username} is full; exit 1'", quota_as_user=False)
    with pytest.raises(HTTPError) as refused:
        asyncio.run(spawner._run_apply_user_options({}))
    assert (refused.value.status_code, refused.value.log_message) == (403, f"Home of {USER} is full")


def test_the_forms_plain_values_parse_back_to_the_same_options():
    limits = Limits({"gpu": PartitionLimits("gpu", 4, 64, 256000, 2880, 4)}, ("m1000",), ("normal", "high"), ("maint",))
    options = SpawnOptions("gpu", "m1000", "high", nodes=2, cpus=32, memory_mb=65536, time_minutes=600, gpus=4,
                           reservation="maint")  # fmt: skip
    assert parse_options(as_user_options(options), limits) == options
    assert "reservation" not in as_user_options(parse_options({}, limits))


# Slurm commands run by name (hpchub.slurm_limits.run: sinfo, sacctmgr, sacct), from the fake on PATH.


@pytest.fixture
def hung_sinfo(fake_slurm, monkeypatch):
    """`hung_sinfo()`: run sinfo, which hangs, with a 0.2 s timeout: (the error's text, sinfo's exit code just
    after, None while it runs). sinfo is then healed, and waited for, before the event loop closes."""
    processes = []
    create = asyncio.create_subprocess_exec

    async def recorded(*argv, **kwargs):
        processes.append(await create(*argv, **kwargs))
        return processes[-1]

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recorded)
    fake_slurm.hang("sinfo")

    def given_up() -> tuple[str, int | None]:
        async def scenario():
            try:
                with pytest.raises(SlurmNotAnswering) as unavailable:
                    await asyncio.wait_for(arun(["sinfo", "--noheader"], timeout=0.2), 5)
                return str(unavailable.value), processes[0].returncode
            finally:
                fake_slurm.heal("sinfo")
                await asyncio.gather(*(process.wait() for process in processes))

        answer = asyncio.run(scenario())
        assert fake_slurm.calls("sinfo") == [["--noheader"]]
        return answer

    return given_up


def test_a_slurm_command_that_does_not_answer_is_given_up_at_the_timeout_and_killed(hung_sinfo):
    message, exit_code = hung_sinfo()
    assert message == "sinfo: no answer within 0.2 s"
    assert exit_code is not None  # not left running: with Slurm hanging, each poll would leave one more


def test_a_missing_slurm_command_is_unavailable(fake_slurm):
    with pytest.raises(SlurmNotAnswering, match=r"^no-such-slurm-command: "):
        asyncio.run(arun(["no-such-slurm-command"]))


# Submit refusals.


def test_sbatch_refusing_the_job_is_400_with_slurms_reason(make_spawner, fake_slurm):
    fake_slurm.fail("sbatch", REFUSED)
    with pytest.raises(HTTPError) as refused:
        asyncio.run(submitted(make_spawner()))
    assert refused.value.status_code == 400
    assert refused.value.log_message == (
        "Slurm refused the job: Batch job submission failed: Invalid account or account/partition combination specified"
    )


def test_sbatch_unable_to_contact_the_controller_is_503(make_spawner, fake_slurm):
    fake_slurm.fail("sbatch", SBATCH_UNREACHABLE)
    with pytest.raises(HTTPError) as unavailable:
        asyncio.run(submitted(make_spawner()))
    assert unavailable.value.status_code == 503 and "nothing was submitted" in unavailable.value.log_message


def test_submitting_without_checked_options_is_400(make_spawner, fake_slurm):
    with pytest.raises(HTTPError) as refused:
        asyncio.run(make_spawner().submit_batch_script())
    assert (refused.value.status_code, refused.value.log_message) == (400, "spawn options were not checked")
    assert fake_slurm.calls("sbatch") == []


# start(): pending, running, the port reported, the server listening.


def test_start_returns_the_node_and_port_once_the_server_listens(make_spawner, fake_slurm):
    spawner = make_spawner()
    sock = free_port()
    port = sock.getsockname()[1]

    async def scenario():
        await spawner._run_apply_user_options({"cpus": 2})

        async def slurm_and_server():
            job = await fake_slurm.next_job()
            await until("squeue asked while the job is pending", lambda: fake_slurm.calls("squeue"))
            spawner.report_port(port)  # as the port-report handler does (before squeue shows the job running)
            asked = len(fake_slurm.calls("squeue"))
            await until("squeue asked for the node", lambda: len(fake_slurm.calls("squeue")) > asked)
            fake_slurm.running(job, "127.0.0.1")
            await until("the job's node found", lambda: spawner.ip == "127.0.0.1")
            return await asyncio.start_server(lambda _reader, writer: writer.close(), sock=sock)

        hub_side = asyncio.ensure_future(slurm_and_server())
        address = await asyncio.wait_for(spawner.start(), 10)
        server = await hub_side
        server.close()
        return address

    try:
        assert asyncio.run(scenario()) == ("127.0.0.1", port)
    finally:
        sock.close()
    job = fake_slurm.last_job()
    assert spawner.job_id == job and fake_slurm.jobs()[job]["squeue"] == "RUNNING"
    assert "#SBATCH --cpus-per-task=2\n" in fake_slurm.script(job)
    assert spawner.hub_state.start_load.starting == 0


@pytest.mark.parametrize("stage", ["report its port", "report its node", "listen"])
def test_a_job_that_ends_during_start_up_fails_it_naming_its_state_and_log(make_spawner, fake_slurm, stage):
    # Until the port is reported, Slurm is asked every job_check_interval: not at all when the job must end later.
    spawner = make_spawner(job_check_interval=60 if stage == "report its node" else 0.02)
    sock = free_port()  # the port reported, where nothing will listen

    async def scenario():
        await spawner._run_apply_user_options({})

        async def job_fails():
            job = await fake_slurm.next_job()
            if stage != "report its port":
                spawner.report_port(sock.getsockname()[1])
            if stage == "listen":
                fake_slurm.running(job, "127.0.0.1")
                await until("the job's node found", lambda: spawner.ip == "127.0.0.1")
            fake_slurm.ended(job, sacct="FAILED", purged=True)
            return job

        ending = asyncio.ensure_future(job_fails())
        with pytest.raises(HTTPError) as failed:
            await asyncio.wait_for(spawner.start(), 10)
        return await ending, failed.value

    try:
        job, error = asyncio.run(scenario())
    finally:
        sock.close()
    message = f"The server's job ended before JupyterLab could {stage} (FAILED in accounting); "
    assert error.jupyterhub_message == f"{message}see {HOME}/.jupyterhub-slurm-{job}.log"
    assert error.status_code == 500 and spawner.job_id == ""


def test_start_fails_when_sbatch_gives_no_job_id(make_spawner, fake_slurm):
    fake_slurm.fail("sbatch", "", code=0, stdout="Submitted nothing\n")
    spawner = make_spawner()

    async def scenario():
        await spawner._run_apply_user_options({})
        await spawner.start()

    with pytest.raises(RuntimeError, match="did not return a job id"):
        asyncio.run(scenario())
    assert fake_slurm.jobs() == {}


# progress(): what the spawn page shows.


async def first_message(spawner: HpcSlurmSpawner) -> str:
    events = spawner.progress()
    try:
        event = await anext(events)
    finally:
        await events.aclose()
    return event["message"]


def test_progress_before_the_job_is_submitted(make_spawner):
    assert asyncio.run(first_message(make_spawner())) == "Submitting the job to Slurm"


def test_progress_of_a_pending_job_names_the_reason(make_spawner, fake_slurm):
    spawner = make_spawner()

    async def scenario():
        job = await submitted(spawner)
        fake_slurm.pending(job, reason="Priority")
        await spawner.query_job_status()
        return job, await first_message(spawner)

    job, message = asyncio.run(scenario())
    assert message == f"Job {job} is pending (Priority)"


def test_progress_of_a_running_job_names_its_node_and_log_and_ends(make_spawner, fake_slurm):
    spawner = make_spawner()

    async def scenario():
        job = await submitted(spawner)
        fake_slurm.running(job, "c1")
        await spawner.query_job_status()
        return job, [event["message"] async for event in spawner.progress()]

    job, messages = asyncio.run(scenario())
    assert messages == [f"Job {job} is running on c1; starting JupyterLab (log: {HOME}/.jupyterhub-slurm-{job}.log)"]


@pytest.mark.parametrize(
    ("job_status", "message"),
    [("PENDING", "Job 1001 is pending (queued)"), ("BOOT_FAIL <x>", "Job 1001: BOOT_FAIL &lt;x&gt;"),
     ("", "Job 1001: no state yet")],
)  # fmt: skip
def test_progress_of_other_states_is_escaped(make_spawner, job_status, message):
    spawner = make_spawner()
    spawner.load_state({"job_id": "1001", "job_status": job_status})
    assert asyncio.run(first_message(spawner)) == message


# poll(): squeue first; sacct decides when squeue does not list the job.


def poll_job(spawner: HpcSlurmSpawner, fake_slurm, then) -> tuple[str, int | None]:
    """Submit, let `then(job)` play the cluster, poll: (job, poll's answer)."""

    async def scenario():
        job = await submitted(spawner)
        then(job)
        return job, await spawner.poll()

    return asyncio.run(scenario())


def test_poll_of_a_running_job_is_none(make_spawner, fake_slurm):
    spawner = make_spawner()
    job, status = poll_job(spawner, fake_slurm, lambda job: fake_slurm.running(job, "c1"))
    assert status is None and spawner.job_id == job and fake_slurm.calls("sacct") == []


@pytest.mark.parametrize(
    ("accounting", "kept"),
    [("RUNNING", True), ("PENDING", True), ("COMPLETED", False), ("FAILED", False), ("unreachable", True)],
)
def test_when_squeue_fails_sacct_decides(make_spawner, fake_slurm, accounting, kept):
    spawner = make_spawner()

    def squeue_fails(job):
        fake_slurm.fail("squeue", SQUEUE_BROKEN)
        if accounting == "unreachable":
            fake_slurm.fail("sacct", SACCT_DOWN)
        else:
            fake_slurm.ended(job, sacct=accounting)

    job, status = poll_job(spawner, fake_slurm, squeue_fails)
    assert (status is None) is kept
    assert spawner.job_id == (job if kept else "")
    assert fake_slurm.calls("sacct") == [["--noheader", "--parsable2", "-X", "-j", job, "--format=state"]]


def test_a_controller_that_does_not_answer_keeps_the_server_without_asking_sacct(make_spawner, fake_slurm):
    spawner = make_spawner()
    job, status = poll_job(spawner, fake_slurm, lambda job: fake_slurm.fail("squeue", CONTROLLER_DOWN))
    assert status is None and spawner.job_id == job and fake_slurm.calls("sacct") == []


def test_a_job_gone_from_squeue_but_not_yet_in_accounting_is_kept(make_spawner, fake_slurm):
    spawner = make_spawner()
    job, status = poll_job(spawner, fake_slurm, lambda job: fake_slurm.ended(job, sacct=""))
    assert status is None and spawner.job_id == job


def test_a_job_neither_the_controller_nor_accounting_knows_is_gone(make_spawner, fake_slurm, caplog):
    spawner = make_spawner()
    with caplog.at_level(logging.WARNING, "test.spawner"):
        job, status = poll_job(spawner, fake_slurm, fake_slurm.forget)
    assert status == 1 and spawner.job_id == ""
    assert f"Job {job} unknown to the controller and to accounting: the server is gone" in caplog.messages


def test_a_server_without_a_job_is_not_running(make_spawner, fake_slurm):
    assert asyncio.run(make_spawner().poll()) == 1
    assert fake_slurm.calls("squeue") == []


def test_an_unknown_user_keeps_the_server_after_the_lookup_wait(make_spawner, fake_slurm, monkeypatch, caplog):
    spawner = make_spawner()
    spawner.load_state({"job_id": "1001", "job_status": "RUNNING None c1"})  # as after a hub restart

    def unknown(name):
        raise KeyError(f"getpwnam(): name not found: {name!r}")

    monkeypatch.setattr(spawner_module.pwd, "getpwnam", unknown)
    with caplog.at_level(logging.WARNING, "test.spawner"):
        assert asyncio.run(spawner.poll()) is None
    assert spawner.job_id == "1001" and fake_slurm.calls("squeue") == []
    assert f"User {USER} unknown to the system after 0 s: keeping job 1001" in caplog.messages


def test_a_user_who_appears_during_the_wait_is_polled_as_usual(make_spawner, fake_slurm, monkeypatch):
    spawner = make_spawner()
    job = asyncio.run(submitted(spawner))
    fake_slurm.ended(job, sacct="COMPLETED")
    lookups = []
    real_getpwnam = pwd.getpwnam

    def late(name):
        lookups.append(name)
        if len(lookups) < 3:
            raise KeyError(name)
        return real_getpwnam(name)

    monkeypatch.setattr(spawner_module.pwd, "getpwnam", late)
    assert asyncio.run(spawner.poll()) == 1
    assert lookups[:3] == [USER] * 3 and spawner.job_id == ""


# stop(): scancel, and its retry in the background while the controller does not answer.


def stop_job(spawner: HpcSlurmSpawner, fake_slurm, before_stop=None, after_stop=None, now: bool = False) -> str:
    """Submit and run a job, let `before_stop(job)` play the cluster, stop, and wait for background retries."""

    async def scenario():
        job = await submitted(spawner)
        fake_slurm.running(job, "c1")
        if before_stop:
            before_stop(job)
        await spawner.stop(now=now)
        if after_stop:
            after_stop(job)
        await until("the scancel retries end", lambda: not spawner.hub_state.retries)
        return job

    return asyncio.run(scenario())


def test_stop_cancels_the_job_and_returns_once_it_is_gone(make_spawner, fake_slurm):
    spawner = make_spawner()
    job = stop_job(spawner, fake_slurm)
    assert fake_slurm.calls("scancel") == [[job]]
    assert fake_slurm.jobs()[job]["sacct"] == "CANCELLED" and not spawner.cancel_deferred
    assert fake_slurm.calls("sacct") == [["--noheader", "--parsable2", "-X", "-j", job, "--format=state"]]


def test_stop_now_does_not_wait_for_the_job_to_end(make_spawner, fake_slurm):
    spawner = make_spawner()
    job = stop_job(spawner, fake_slurm, now=True)
    assert fake_slurm.calls("scancel") == [[job]] and fake_slurm.calls("squeue") == []


def test_a_job_that_outlives_its_scancel_is_logged(make_spawner, fake_slurm, caplog):
    spawner = make_spawner()
    with caplog.at_level(logging.WARNING, "test.spawner"):
        job = stop_job(spawner, fake_slurm, lambda job: fake_slurm.fail("scancel", "", code=0))
    assert len(fake_slurm.calls("squeue")) == 10 and fake_slurm.jobs()[job]["squeue"] == "RUNNING"
    assert f"Job {job} possibly failed to terminate" in caplog.messages


def test_stop_returns_at_once_when_scancel_cannot_reach_the_controller_and_retries(make_spawner, fake_slurm, caplog):
    spawner = make_spawner()
    calls_at_return = []

    def controller_down(job):
        fake_slurm.fail("scancel", SCANCEL_UNREACHABLE.format(job=job), times=3)

    with caplog.at_level(logging.INFO, "test.spawner"):
        job = stop_job(
            spawner, fake_slurm, controller_down, lambda job: calls_at_return.append(fake_slurm.calls("scancel"))
        )
    assert spawner.cancel_deferred and calls_at_return == [[[job]]]  # returned after one scancel, no squeue
    assert fake_slurm.calls("scancel") == [[job]] * 4 and fake_slurm.calls("squeue") == []
    assert fake_slurm.jobs()[job]["sacct"] == "CANCELLED"
    assert f"Job {job} cancelled after Slurm came back" in caplog.messages


def test_the_retry_stops_when_scancel_answers_otherwise(make_spawner, fake_slurm, caplog):
    spawner = make_spawner()

    def down_once(job):
        fake_slurm.fail("scancel", SCANCEL_UNREACHABLE.format(job=job), times=1)

    with caplog.at_level(logging.INFO, "test.spawner"):
        job = stop_job(spawner, fake_slurm, down_once, lambda job: fake_slurm.ended(job, sacct="COMPLETED"))
    assert fake_slurm.calls("scancel") == [[job]] * 2 and fake_slurm.jobs()[job]["sacct"] == "COMPLETED"
    assert any(message.startswith(f"Job {job}: scancel says scancel: error:") for message in caplog.messages)


def test_the_retry_gives_up_after_cancel_retry_for(make_spawner, fake_slurm, caplog):
    spawner = make_spawner(cancel_retry_for=0.1)
    with caplog.at_level(logging.ERROR, "test.spawner"):
        job = stop_job(spawner, fake_slurm, lambda job: fake_slurm.fail("scancel", SCANCEL_UNREACHABLE.format(job=job)))
    assert len(fake_slurm.calls("scancel")) >= 2 and fake_slurm.jobs()[job]["squeue"] == "RUNNING"
    assert f"Job {job} could not be cancelled for 0 s: cancel it by hand" in caplog.messages


def test_another_scancel_error_is_raised(make_spawner, fake_slurm):
    spawner = make_spawner()
    denied = "scancel: error: Kill job error on job id {job}: Access/permission denied"
    with pytest.raises(RuntimeError, match="Access/permission denied"):
        stop_job(spawner, fake_slurm, lambda job: fake_slurm.fail("scancel", denied.format(job=job)))
    assert not spawner.cancel_deferred and not spawner.hub_state.retries


def test_the_home_pages_time_left_from_squeues_forms():
    from hpchub.time_left import parse_time_left

    out = "101|19:43\n102|1:59:40\n103|2-03:00:00\n104|UNLIMITED\n105|0:07\n"
    assert parse_time_left(out) == {"101": 1183, "102": 7180, "103": 183600, "104": None, "105": 7}


def test_maintenance_refuses_a_new_server_before_slurm_is_asked(make_spawner, fake_slurm, tmp_path):
    from hpchub import notices

    (tmp_path / "maintenance.json").write_text('{"message": "Upgrading Slurm", "until": "15:00"}')
    notices.install(str(tmp_path), str(tmp_path))
    try:
        spawner = make_spawner()
        with pytest.raises(HTTPError) as refused:
            asyncio.run(spawner._run_apply_user_options({}))
        assert refused.value.status_code == 503
        assert "Upgrading Slurm" in refused.value.log_message
        assert fake_slurm.calls("sinfo") == [] and fake_slurm.calls("sbatch") == []
    finally:
        notices.NOTICES = None
