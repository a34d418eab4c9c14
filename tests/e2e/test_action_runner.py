"""Runs action.yml's steps the way the GitHub runner does, against a fake GitHub on loopback.

What the runner does and this does too: evaluates `${{ }}` in `if:`, `env:`, `with:` and
`working-directory:` (inputs with their defaults, `github.*` including the event payload, `runner.*`,
`steps.<id>.outputs.*`, `format()` and `hashFiles()`);
runs each `run:` script with `bash --noprofile --norc -eo pipefail` and only the step's env
mapping added; gives each step fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files and parses
the outputs back; skips later steps after a failure unless their `if:` says always().

What it replaces: `uses:` steps are recorded with their evaluated `with:` but not run
(actions/setup-python reports this interpreter; the caches do nothing), and the `install`
step is replaced by this test environment's own installation of prodgate (its bin folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
ACTION = ROOT / "action.yml"
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)|(?P<name>[A-Za-z_][\w.\-]*))")
_STATUS = ("always", "success", "failure", "cancelled")


@dataclass
class StepRun:
    id: str | None
    name: str
    ran: bool
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    with_: dict[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    failed: bool

    def step(self, key: str) -> StepRun:
        return next(s for s in self.steps if key in (s.id, s.name))

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self.steps)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)


def load_action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def parse_outputs(text: str) -> dict[str, str]:
    """The runner's two forms: `name=value` and `name<<DELIMITER` … `DELIMITER`."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            for nxt in lines:
                if nxt == delim:
                    break
                value.append(nxt)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), template)


class _Eval:
    """The slice of the Actions expression language the action uses."""

    def __init__(self, text: str, lookup: Any, failed: bool, functions: dict[str, Any]) -> None:
        self.tokens = [m.group(0).strip() for m in _TOKEN.finditer(text)]
        self.pos = 0
        self.lookup = lookup
        self.failed = failed
        self.functions = functions

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Any:
        value = self.or_()
        assert self.peek() is None, f"unparsed: {self.tokens[self.pos:]}"
        return value

    def or_(self) -> Any:
        left = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            left = left or right
        return left

    def and_(self) -> Any:
        left = self.cmp()
        while self.peek() == "&&":
            self.take()
            right = self.cmp()
            left = left and right
        return left

    def cmp(self) -> Any:
        left = self.unary()
        if self.peek() in ("==", "!="):
            op = self.take()
            right = self.unary()
            return (str(left) == str(right)) if op == "==" else (str(left) != str(right))
        return left

    def unary(self) -> Any:
        tok = self.take()
        if tok == "!":
            return not self.unary()
        if tok == "(":
            value = self.or_()
            assert self.take() == ")"
            return value
        if tok.startswith("'"):
            return tok[1:-1].replace("''", "'")
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take()
            if tok in _STATUS:
                return {"always": True, "success": not self.failed, "failure": self.failed, "cancelled": False}[tok]
            return self.functions[tok](*args)
        return self.lookup(tok)


class Runner:
    def __init__(self, workspace: Path, temp: Path, inputs: dict[str, str], env: dict[str, str]) -> None:
        self.action = load_action()
        self.workspace = workspace
        self.temp = temp
        self.env = env
        self.inputs = {name: spec.get("default", "") for name, spec in self.action["inputs"].items()}
        self.inputs.update(inputs)
        self.outputs: dict[str, dict[str, str]] = {}
        self.failed = False
        self.action_path = str(ROOT)

    def lookup(self, name: str) -> str:
        scope, _, rest = name.partition(".")
        if scope == "inputs":
            return self.expand(str(self.inputs.get(rest, "")))
        if scope == "github":
            if rest.startswith("event."):
                value: Any = json.loads(Path(self.env["GITHUB_EVENT_PATH"]).read_text())
                for key in rest.split(".")[1:]:
                    value = value.get(key) if isinstance(value, dict) else None
                return "" if value is None else str(value)
            return {"action_path": self.action_path, "token": self.env.get("RUNNER_GITHUB_TOKEN", ""),
                    "run_id": self.env["GITHUB_RUN_ID"], "workspace": str(self.workspace),
                    "event_name": self.env.get("GITHUB_EVENT_NAME", ""), "sha": self.env.get("GITHUB_SHA", ""),
                    "ref": self.env.get("GITHUB_REF", ""), "repository": self.env.get("GITHUB_REPOSITORY", "")}[rest]
        if scope == "runner":
            return {"os": "Linux", "temp": str(self.temp)}[rest]
        if scope == "steps":
            step_id, kind, output = rest.split(".", 2)
            assert kind == "outputs", name
            return self.outputs.get(step_id, {}).get(output, "")
        raise KeyError(name)

    def evaluate(self, expr: str) -> Any:
        return _Eval(expr, self.lookup, self.failed, {"format": _format, "hashFiles": self.hash_files}).parse()

    def hash_files(self, *patterns: str) -> str:
        """The runner's hashFiles(): sha256 over each matched file's sha256, in path order; '' for none."""
        files: set[Path] = set()
        for pattern in patterns:
            assert ".." not in Path(pattern).parts, pattern
            files.update(p for p in self.workspace.glob(pattern.removeprefix("./")) if p.is_file())
        if not files:
            return ""
        result = hashlib.sha256()
        for path in sorted(files):
            result.update(hashlib.sha256(path.read_bytes()).digest())
        return result.hexdigest()

    def expand(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            value = self.evaluate(m.group(1))
            return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

        return _EXPR.sub(sub, text)

    def should_run(self, step: dict[str, Any]) -> bool:
        cond = str(step.get("if", "")).strip()
        if cond.startswith("${{"):
            cond = _EXPR.fullmatch(cond).group(1)  # type: ignore[union-attr]
        if not cond:
            return not self.failed
        status_checked = re.search(r"\b(always|failure|cancelled|success)\(\)", cond)
        result = bool(self.evaluate(cond))
        return result if status_checked else (result and not self.failed)

    def run(self) -> ActionRun:
        runs: list[StepRun] = []
        for i, step in enumerate(self.action["runs"]["steps"]):
            sid = step.get("id")
            name = step.get("name", sid or f"step {i}")
            if not self.should_run(step):
                runs.append(StepRun(sid, name, ran=False))
                continue
            if "uses" in step:
                result = self._uses(step, sid, name)
            elif sid == "install":
                # Stands in for `pip install "$GITHUB_ACTION_PATH"`: this environment's installation.
                result = StepRun(sid, name, True, outputs={"python": sys.executable})
            else:
                result = self._run(step, sid, name, i)
            if sid:
                self.outputs[sid] = result.outputs
            if result.exit_code != 0:
                self.failed = True
            runs.append(result)
        outputs = {name: self.expand(spec["value"]) for name, spec in self.action["outputs"].items()}
        return ActionRun(runs, outputs, self.failed)

    def _uses(self, step: dict[str, Any], sid: str | None, name: str) -> StepRun:
        with_ = {k: self.expand(str(v)) for k, v in (step.get("with") or {}).items()}
        outputs = {"python-path": sys.executable} if "setup-python" in step["uses"] else {}
        return StepRun(sid, name, True, outputs=outputs, with_=with_)

    def _run(self, step: dict[str, Any], sid: str | None, name: str, index: int) -> StepRun:
        assert step.get("shell") == "bash", f"{name}: shell must be given (bash)"
        step_env = {k: self.expand(str(v)) for k, v in (step.get("env") or {}).items()}
        files = self.temp / f"_runner_file_commands_{index}"
        files.mkdir(parents=True, exist_ok=True)
        output, summary = files / "output", files / "summary"
        output.write_text("")
        summary.write_text("")
        script = files / "script.sh"
        script.write_text(step["run"])
        env = {**self.env, **step_env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        env.pop("RUNNER_GITHUB_TOKEN", None)
        cwd = self.workspace / self.expand(str(step.get("working-directory", ".")))
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        return StepRun(sid, name, True, proc.returncode, proc.stdout, proc.stderr,
                       parse_outputs(output.read_text()), step_env, summary=summary.read_text())


def runner_env(workspace: Path, temp: Path, event_path: Path, event_name: str, api_url: str, token: str,
               **extra: str) -> dict[str, str]:
    """The variables a hosted runner sets for every step (not GITHUB_TOKEN: only what env: maps)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(temp / "home"), "CI": "true",
        "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace), "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path), "GITHUB_REPOSITORY": "Codertocat/Hello-World",
        "GITHUB_API_URL": api_url, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "9001",
        "GITHUB_RUN_ATTEMPT": "1", "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
        "RUNNER_GITHUB_TOKEN": token, **extra,
    }


def test_runner_expression_evaluation_matches_the_actions_language(tmp_path: Path) -> None:
    runner = Runner(tmp_path, tmp_path, {"cache": "true", "python-version": ""}, {"GITHUB_RUN_ID": "7"})
    runner.outputs["check"] = {"exit-code": "1"}
    assert runner.evaluate("inputs.cache == 'true'") is True
    assert runner.evaluate("inputs.python-version != ''") is False
    assert runner.evaluate("always() && steps.check.outputs.exit-code != ''") is True
    assert runner.evaluate("steps.missing.outputs.x == ''") is True
    assert runner.expand("${{ steps.check.outputs.exit-code }}-${{ github.run_id }}") == "1-7"
    assert runner.expand("${{ inputs.github-token }}") == ""
    assert runner.evaluate("format('{0}/**/{1}', inputs.working-directory, 'x.yml')") == "./**/x.yml"
    assert runner.evaluate("hashFiles('**/*.none')") == ""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yml").write_text("a")
    one = runner.evaluate("hashFiles('./**/*.yml')")
    (tmp_path / "b.yml").write_text("b")
    assert len(one) == 64 and runner.evaluate("hashFiles('./**/*.yml', 'sub/a.yml')") != one


def test_runner_parse_outputs_reads_both_forms() -> None:
    assert parse_outputs("a=1\nb<<EOF\nx\ny=2\nEOF\nc=\n") == {"a": "1", "b": "x\ny=2", "c": ""}
