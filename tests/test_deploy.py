"""deploy/: the runner files parse and agree with the pins, the options and the installed Beam.

The images and the Java job servers cannot be built or run here (no Docker engine, no Maven),
so what they say is checked against what the project pins: the Beam version, the Python
version, the requirement lock, the Flink and Spark versions Beam supports, the options the
Dataflow template exposes. Fast and offline; tests/test_portable_runner.py runs the pipeline
through the portable Runner API path itself.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import runpy
import shlex
import sys
import tomllib
from importlib import metadata, resources
from pathlib import Path

import apache_beam as beam
import pytest
import yaml
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    SparkRunnerOptions,
    StandardOptions,
)
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipeline.options import NewsbeamOptions

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
LOCK = DEPLOY / "requirements.lock"
DATAFLOW_LOCK = DEPLOY / "requirements-dataflow.lock"
SDK_DOCKERFILE = DEPLOY / "sdk-container" / "Dockerfile"
LAUNCHER_DOCKERFILE = DEPLOY / "dataflow" / "Dockerfile"
METADATA = DEPLOY / "dataflow" / "metadata.json"
LAUNCH_PY = DEPLOY / "dataflow" / "launch.py"
FLINK_YAML = DEPLOY / "flink" / "flinkdeployment.yaml"
FLINK_SCRIPT = DEPLOY / "flink" / "session-cluster.sh"
SPARK_COMPOSE = DEPLOY / "spark" / "compose.yaml"
README = DEPLOY / "README.md"
# The port Beam's SDK image listens on when started with --worker_pool.
WORKER_POOL_PORT = 50000
PUBSUB_READ_URN = "beam:transform:pubsub_read:v1"
SUBSCRIPTION = "projects/newsbeam-test/subscriptions/pages"


# ---------------------------------------------------------------- what the project pins


def pinned(requirements: list[str]) -> dict[str, str]:
    """``name==version`` requirements as {canonical name: version}."""
    pins = {}
    for line in requirements:
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


DIRECT = pinned(PYPROJECT["project"]["dependencies"])
BEAM_VERSION = DIRECT["apache-beam"]


def python_minor() -> str:
    """The one Python minor version pyproject allows, e.g. ``3.11`` (from ``>=3.11,<3.12``)."""
    match = re.fullmatch(r">=(3\.\d+),<3\.\d+", PYPROJECT["project"]["requires-python"])
    assert match, PYPROJECT["project"]["requires-python"]
    return match.group(1)


def read_lock(path: Path) -> dict[str, str]:
    """A lock file as {canonical name: version}; every line must be an exact ``==`` pin."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+", line), (
            f"{path.name}:{number}: not an exact pin: {line!r}"
        )
        name, version = line.split("==")
        key = canonicalize_name(name)
        assert key not in pins, f"{path.name}:{number}: {name} pinned twice"
        pins[key] = version
    return pins


def test_the_installed_beam_is_the_pinned_one():
    assert beam.__version__ == BEAM_VERSION
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == python_minor()


# ---------------------------------------------------------------- the requirement locks


@pytest.mark.parametrize("path", [LOCK, DATAFLOW_LOCK], ids=lambda p: p.name)
def test_lock_pins_every_direct_dependency_as_pyproject_does(path):
    lock = read_lock(path)
    assert "newsbeam" not in lock, "the project itself is installed from source, not the lock"
    assert {name: lock.get(name) for name in DIRECT} == DIRECT


def test_dataflow_lock_is_the_runtime_lock_plus_the_pubsub_extra():
    runtime, dataflow = read_lock(LOCK), read_lock(DATAFLOW_LOCK)
    assert {name: dataflow.get(name) for name in runtime} == runtime
    (extra,) = PYPROJECT["project"]["optional-dependencies"]["pubsub"]
    assert Requirement(extra).extras == {"gcp"}
    # What apache-beam[gcp] adds for Pub/Sub and for submitting to Dataflow.
    assert {"google-cloud-pubsub", "google-apitools"} <= set(dataflow)


def _dependencies(name: str) -> list[Requirement]:
    """What an installed distribution requires here, extras not asked for left out."""
    environment = {**default_environment(), "extra": ""}
    needed = []
    for line in metadata.requires(name) or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            needed.append(requirement)
    return needed


def test_runtime_lock_is_closed_and_consistent():
    """pip check on the lock itself: each pinned package's requirements are pinned, compatibly.

    Read from the installed distributions' metadata, so only packages installed here at the
    locked version are checked (all of the runtime closure, in the test environment).
    """
    lock = read_lock(LOCK)
    checked, problems = 0, []
    for name, version in lock.items():
        try:
            if metadata.version(name) != version:
                continue
        except metadata.PackageNotFoundError:
            continue
        checked += 1
        for requirement in _dependencies(name):
            dep = canonicalize_name(requirement.name)
            if dep not in lock:
                problems.append(f"{name} needs {requirement}, not in the lock")
            elif not requirement.specifier.contains(lock[dep], prereleases=True):
                problems.append(f"{name} needs {requirement}, lock has {lock[dep]}")
    assert checked >= len(DIRECT)
    assert not problems


# ---------------------------------------------------------------- Dockerfiles


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def copied_sources(instructions: list[tuple[str, str]]) -> list[str]:
    sources = []
    for keyword, rest in instructions:
        if keyword == "COPY" and not rest.startswith("--from"):
            sources.extend(shlex.split(rest)[:-1])
    return sources


@pytest.mark.parametrize("path", [SDK_DOCKERFILE, LAUNCHER_DOCKERFILE], ids=["sdk", "launcher"])
def test_dockerfile_copies_only_what_exists(path):
    """Each COPY source exists in the repository (the build context is the repository root)."""
    for source in copied_sources(dockerfile(path)):
        if any(ch in source for ch in "*?["):
            continue  # README*: optional; the project builds without it
        assert (REPO / source).exists(), f"{path.relative_to(REPO)} copies missing {source}"


def test_sdk_image_is_beams_own_of_the_pinned_version():
    instructions = dockerfile(SDK_DOCKERFILE)
    bases = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert bases == [f"apache/beam_python{python_minor()}_sdk:{BEAM_VERSION}"]
    # Beam's boot entrypoint is what runners start: the image must not replace it.
    assert not [k for k, _ in instructions if k in ("ENTRYPOINT", "CMD")]


@pytest.mark.parametrize(
    "path, lock",
    [(SDK_DOCKERFILE, LOCK), (LAUNCHER_DOCKERFILE, DATAFLOW_LOCK)],
    ids=["sdk", "launcher"],
)
def test_image_installs_the_lock_then_the_project_without_resolving_and_checks(path, lock):
    instructions = dockerfile(path)
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    lock_source = f"deploy/{lock.name}"
    assert lock_source in copied_sources(instructions)
    install_lock = next(i for i, run in enumerate(runs) if f"-r {lock.name}" in run)
    install_project = next(i for i, run in enumerate(runs) if "pip install" in run and " ." in run)
    assert install_lock < install_project
    assert "--no-deps" in runs[install_project]
    assert "pip check" in runs[install_project]
    for package in PYPROJECT["tool"]["setuptools"]["packages"]:
        assert package in copied_sources(instructions)


def test_launcher_is_googles_python_launcher_running_launch_py():
    instructions = dockerfile(LAUNCHER_DOCKERFILE)
    (base,) = [rest for keyword, rest in instructions if keyword == "FROM"]
    image = base.split("@")[0].split(":")[0]
    wanted = f"gcr.io/dataflow-templates-base/python{python_minor().replace('.', '')}"
    assert image == f"{wanted}-template-launcher-base"
    env = dict(
        rest.split("=", 1) for keyword, rest in instructions if keyword == "ENV" and "=" in rest
    )
    py_file = env["FLEX_TEMPLATE_PYTHON_PY_FILE"]
    copies = [shlex.split(rest) for keyword, rest in instructions if keyword == "COPY"]
    workdir = [rest for keyword, rest in instructions if keyword == "WORKDIR"][-1]
    assert ["deploy/dataflow/launch.py", "./launch.py"] in copies
    assert py_file == f"{workdir}/launch.py"


def test_launch_py_is_newsbeam_run(monkeypatch):
    """The launcher runs ``python launch.py --name=value ...``: that must be ``newsbeam run``."""
    import pipeline.cli

    seen = []
    monkeypatch.setattr(pipeline.cli, "main", lambda argv: seen.append(argv) or 0)
    args = [f"--pubsub_subscription={SUBSCRIPTION}", "--output=gs://bucket/out"]
    monkeypatch.setattr(sys, "argv", [str(LAUNCH_PY), *args])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(LAUNCH_PY), run_name="__main__")
    assert stop.value.code == 0
    assert seen == [["run", *args]]


# ---------------------------------------------------------------- Dataflow Flex Template


def newsbeam_flags() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    NewsbeamOptions._add_argparse_args(parser)
    return {action.dest: action for action in parser._actions if action.dest != "help"}


METADATA_DOC = json.loads(METADATA.read_text("utf-8"))
PARAMETERS = {p["name"]: p for p in METADATA_DOC["parameters"]}
# Sample values a user would give, one per parameter the template may expose.
SAMPLES = {
    "pubsub_subscription": SUBSCRIPTION,
    "output": "gs://newsbeam-bucket/out",
    "window_seconds": "120",
    "dedup_ttl_days": "3.5",
    "max_page_bytes": "2000000",
    "extract_time_limit": "10",
    "reference_time": "2026-11-23T12:00:00+00:00",
    "topics": "/template/topics.toml",
    "publishers": "/template/publishers.toml",
}
# Flags that only make sense on one machine (watching a local folder) or in batch. A new
# newsbeam flag goes either into deploy/dataflow/metadata.json or into this set.
NOT_ON_DATAFLOW_STREAMING = {
    "watch",
    "poll_interval",
    "stable_seconds",
    "input",
    "num_shards",
    "run_attempts",
}


def test_template_metadata_is_well_formed():
    assert METADATA_DOC["name"] and METADATA_DOC["description"]
    assert METADATA_DOC["streaming"] is True
    assert len(PARAMETERS) == len(METADATA_DOC["parameters"]), "duplicate parameter names"
    for parameter in METADATA_DOC["parameters"]:
        assert parameter["label"] and parameter["helpText"], parameter["name"]
        assert isinstance(parameter["isOptional"], bool), parameter["name"]
        for regex in parameter.get("regexes", []):
            re.compile(regex)


def test_template_parameters_are_newsbeam_options():
    flags = newsbeam_flags()
    assert set(PARAMETERS) <= set(flags), set(PARAMETERS) - set(flags)
    assert not set(PARAMETERS) & NOT_ON_DATAFLOW_STREAMING
    # Everything a streaming Dataflow run can use is exposed.
    missing = set(flags) - NOT_ON_DATAFLOW_STREAMING - set(PARAMETERS)
    assert not missing, f"add to metadata.json or to NOT_ON_DATAFLOW_STREAMING: {missing}"
    for name in ("pubsub_subscription", "output"):
        assert PARAMETERS[name]["isOptional"] is False, f"{name} is required on Dataflow"
    for name, parameter in PARAMETERS.items():
        numeric = flags[name].type in (int, float)
        assert (parameter.get("paramType") == "NUMBER") == numeric, name


def test_template_parameters_parse_as_the_pipeline_reads_them():
    flags = newsbeam_flags()
    assert set(SAMPLES) == set(PARAMETERS)
    for name, value in SAMPLES.items():
        for regex in PARAMETERS[name].get("regexes", []):
            assert re.fullmatch(regex, value), (name, value)
        default = flags[name].default
        if PARAMETERS[name]["isOptional"] and default is not None:
            # Left out, the option's default applies: it must pass the template's own checks.
            for regex in PARAMETERS[name].get("regexes", []):
                assert re.fullmatch(regex, str(default)), (name, default)
    argv = [f"--{name}={value}" for name, value in SAMPLES.items()]
    opts = PipelineOptions(argv).view_as(NewsbeamOptions)
    for name, value in SAMPLES.items():
        kind = flags[name].type or str
        assert getattr(opts, name) == kind(value), name


def test_pubsub_regex_rejects_a_bare_name():
    (regex,) = PARAMETERS["pubsub_subscription"]["regexes"]
    assert not re.fullmatch(regex, "pages")
    assert not re.fullmatch(regex, "projects/p/topics/pages")


# ---------------------------------------------------------------- Flink


def flink_documents() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(FLINK_YAML.read_text("utf-8"))}


def job_server_image(runner: str, version: str) -> str:
    return f"apache/beam_{runner}{version}_job_server:{BEAM_VERSION}"


def test_flink_version_is_one_the_pinned_beam_supports():
    docs = flink_documents()
    spec = docs["FlinkDeployment"]["spec"]
    version = spec["flinkVersion"].removeprefix("v").replace("_", ".")
    assert version in FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS
    assert spec["image"] == f"flink:{version}"
    (server,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert server["image"] == job_server_image("flink", version)
    script = FLINK_SCRIPT.read_text("utf-8")
    assert f'FLINK_IMAGE="flink:{version}"' in script
    assert f'JOB_SERVER_IMAGE="{job_server_image("flink", version)}"' in script


def test_flink_session_cluster_is_wired_together():
    docs = flink_documents()
    flink = docs["FlinkDeployment"]
    assert "job" not in flink["spec"], "a session cluster: jobs come through the job server"
    pod = flink["spec"]["taskManager"]["podTemplate"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    pool = containers["beam-worker-pool"]
    assert pool["args"] == ["--worker_pool"]
    assert [p["containerPort"] for p in pool["ports"]] == [WORKER_POOL_PORT]
    server_pod = docs["Deployment"]["spec"]["template"]
    (server,) = server_pod["spec"]["containers"]
    args = dict(arg.removeprefix("--").split("=", 1) for arg in server["args"])
    assert args["flink-master"] == f"{flink['metadata']['name']}-rest:8081"
    service = docs["Service"]["spec"]
    assert service["selector"] == server_pod["metadata"]["labels"]
    assert {p["port"] for p in service["ports"]} >= {int(args["job-port"]), 8098}
    # Artifacts staged by the job server must be readable by the TaskManagers: one claim.
    claim = docs["PersistentVolumeClaim"]
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    for volumes in (pod["volumes"], server_pod["spec"]["volumes"]):
        assert [v["persistentVolumeClaim"]["claimName"] for v in volumes] == [
            claim["metadata"]["name"]
        ]
    mount = {m["mountPath"] for m in server["volumeMounts"]}
    assert any(args["artifacts-dir"].startswith(path) for path in mount)


# ---------------------------------------------------------------- Spark


def test_spark_is_the_major_version_the_pinned_beam_supports():
    services = yaml.safe_load(SPARK_COMPOSE.read_text("utf-8"))["services"]
    (major,) = _spark_versions()
    for name in ("spark-master", "spark-worker"):
        repository, tag = services[name]["image"].rsplit(":", 1)
        assert repository == "apache/spark" and tag.split(".")[0] == major, name
    assert services["beam-job-server"]["image"] == job_server_image("spark", major)
    assert "--spark-master-url=spark://spark-master:7077" in services["beam-job-server"]["command"]
    pool = services["beam-worker-pool"]
    assert pool["command"] == ["--worker_pool"]
    assert pool["network_mode"] == "service:spark-worker"


def _spark_versions() -> list[str]:
    parser = argparse.ArgumentParser()
    SparkRunnerOptions._add_argparse_args(parser)
    (action,) = [a for a in parser._actions if a.dest == "spark_version"]
    return list(action.choices)


# ---------------------------------------------------------------- the walkthrough


def readme_commands(prefix: str) -> list[list[str]]:
    """Shell commands in deploy/README.md's code blocks starting with ``prefix``."""
    text = README.read_text("utf-8")
    commands = []
    for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith(prefix):
                words = shlex.split(line, comments=True)
                commands.append(words[len(prefix.split()) :])
    return commands


def test_readme_submit_commands_use_only_real_options():
    commands = readme_commands("newsbeam run")
    assert len(commands) >= 4  # Flink (two ways), Spark, Dataflow direct
    known = set(PipelineOptions([]).get_all_options())
    runners = set()
    for argv in commands:
        options = PipelineOptions(argv)
        unknown = set(options.get_all_options(retain_unknown_options=True)) - known
        assert not unknown, (argv, unknown)
        runners.add(options.view_as(StandardOptions).runner)
    assert {"PortableRunner", "FlinkRunner", "DataflowRunner"} <= runners


def test_readme_walks_through_every_runner():
    text = README.read_text("utf-8")
    for needed in (
        "pip freeze --exclude-editable",
        "docker build -f deploy/sdk-container/Dockerfile",
        "gcloud dataflow flex-template build",
        "gcloud dataflow flex-template run",
        "--metadata-file=deploy/dataflow/metadata.json",
        "sdk_container_image=",
        "kubectl apply -f deploy/flink/flinkdeployment.yaml",
        "deploy/flink/session-cluster.sh",
        "docker compose -f deploy/spark/compose.yaml",
        job_server_image("spark", "3"),
        "--environment_type=EXTERNAL",
        f"--environment_config=localhost:{WORKER_POOL_PORT}",
    ):
        assert needed in text, needed


# ---------------------------------------------------------------- package data


def test_worker_data_ships_as_package_data():
    """Every schema and data file is matched by pyproject's package-data and found as a resource."""
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for package, patterns in package_data.items():
        folder = REPO / package
        files = [p for p in folder.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
        files = [p for p in files if "__pycache__" not in p.parts]
        for path in files:
            relative = path.relative_to(folder).as_posix()
            if relative.endswith(".md"):
                continue  # documentation next to the data, not read by workers
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), (
                f"{package}/{relative} is not package data: workers would not get it"
            )
            assert resources.files(package).joinpath(relative).is_file()


# ---------------------------------------------------------------- Pub/Sub on Dataflow


def test_pubsub_pipeline_graph_builds_for_a_full_runner(tmp_path):
    """``--pubsub_subscription`` wires ReadFromPubSub into the windowed pipeline; no Pub/Sub needed.

    apache_beam.io.gcp.pubsub constructs without the ``pubsub`` extra (only running it needs
    google-cloud-pubsub), so this runs in the plain test environment. The output is a local
    folder: a ``gs://`` one needs Beam's GCS filesystem (the extra) already to build the graph.
    """
    from apache_beam.portability.api import beam_runner_api_pb2

    from pipeline.cli import reference_time
    from pipeline.streaming import build_streaming

    options = PipelineOptions(
        [
            f"--pubsub_subscription={SUBSCRIPTION}",
            f"--output={tmp_path}",
            "--streaming",
        ]
    )
    pipeline = beam.Pipeline(options=options)
    build_streaming(
        pipeline,
        options.view_as(NewsbeamOptions),
        reference_time("2026-11-23T12:00:00+00:00"),
        live_local=False,
    )
    proto = pipeline.to_runner_api()
    transforms = proto.components.transforms
    reads = [t for t in transforms.values() if t.spec.urn == PUBSUB_READ_URN]
    assert len(reads) == 1
    payload = beam_runner_api_pb2.PubSubReadPayload.FromString(reads[0].spec.payload)
    assert payload.subscription == SUBSCRIPTION
    names = [t.unique_name for t in transforms.values()]
    assert not [n for n in names if n.startswith("Watch")], "no folder watching on Dataflow"
    for kind in ("articles", "copies", "dead_letters"):
        assert f"Window/{kind}" in names and f"Files/{kind}" in names, kind
        assert f"Bundles/{kind}" not in names, "the per-bundle sink is for the local runner only"
