"""The image definition, parsed (no Docker engine here to build it)."""
import re
import tomllib

from dockerfile_parse import DockerfileParser

from tests.deploy.conftest import DEPLOY, ROOT

BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|libpq-dev|python3-dev|git)\b")


def stages():
    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    result, current = [], None
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            current = {"from": instruction["value"], "instructions": []}
            result.append(current)
        elif current is not None:
            current["instructions"].append((instruction["instruction"], instruction["value"]))
    return parser, result


def test_multi_stage_with_a_slim_final_stage():
    _, parsed = stages()
    assert len(parsed) >= 2
    *builders, final = parsed
    assert final["from"].split()[0] == builders[0]["from"].split()[0], \
        "the final stage starts from the same base, not from the build stage"
    runs = " ".join(v for i, v in final["instructions"] if i == "RUN")
    assert not BUILD_TOOLS.search(runs), f"build tools installed in the final stage: {runs}"
    assert "apt-get install" not in runs
    copies = [v for i, v in final["instructions"] if i == "COPY"]
    assert copies and all(c.startswith("--from=") for c in copies), \
        "the final stage takes only what the build stage made"
    assert any(BUILD_TOOLS.search(v) for s in builders for i, v in s["instructions"]
               if i == "RUN"), "the build stage is where compilers live"


def test_runs_as_a_non_root_user():
    _, parsed = stages()
    users = [v for i, v in parsed[-1]["instructions"] if i == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes check runAsNonRoot"


def test_one_image_one_command_per_service():
    parser, _ = stages()
    assert parser.baseimage  # parsed
    instructions = {i["instruction"]: i["value"] for i in parser.structure}
    assert instructions["ENTRYPOINT"] == '["python", "-m", "shared.runner"]'
    assert instructions["CMD"] == '["intake"]'
    env = parser.envs
    assert env["PRAXIS_HOST"] == "0.0.0.0"
    for service_port in ("8001", "8002", "8003", "8004"):
        assert service_port in instructions["EXPOSE"]


def test_the_build_copies_what_the_dockerignore_lets_in():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore, "the context is closed by default, opened file by file"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    _, parsed = stages()
    sources = [v.split()[0] for s in parsed for i, v in s["instructions"]
               if i == "COPY" and not v.startswith("--from=")]
    assert sources
    for source in sources:
        assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"
        assert (ROOT / source).exists(), source


def test_the_image_runs_a_supported_python():
    """The image's Python is the newest pyproject.toml supports (and a release, not a
    moving tag)."""
    parser, _ = stages()
    (image,) = [i["value"].partition("=")[2] for i in parser.structure
                if i["instruction"] == "ARG" and i["value"].startswith("PYTHON_IMAGE=")]
    match = re.fullmatch(r"python:(3)\.(\d+)\.(\d+)-slim-[a-z]+", image)
    assert match, f"{image}: python:<major.minor.patch>-slim-<debian release>"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lowest, below = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires).groups()
    assert int(match.group(2)) == int(below) - 1, f"{image} against requires-python {requires}"
    assert int(lowest) <= int(match.group(2))
