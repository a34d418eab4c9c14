"""The schema check's rules: a stable id and name for every kind of finding, what it means and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass

from gate.report import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTICE


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    meaning: str
    fix: str
    # gh-models silently ignores what this rule reports: a warning, an error under `strict: true`.
    ignored: bool = False

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}"


_RULES = (
    Rule("PG100", "yaml-invalid", E, "The file is not readable YAML, or its first document is not a mapping.",
         "Fix the syntax at the line shown."),
    Rule("PG101", "jsonschema-invalid", E, "`jsonSchema` is not a JSON string holding a JSON object (gh-models refuses "
         "the file even without `responseFormat`; `NaN` is not JSON).", "Write the JSON object in a `|` block."),
    Rule("PG102", "jsonschema-incomplete", E, "`responseFormat: json_schema` without a `jsonSchema` holding `name` and "
         "a valid `schema`.", "Add the missing part."),
    Rule("PG103", "jsonschema-unused", W, "`jsonSchema` is sent only with `responseFormat: json_schema`.",
         "Set `responseFormat: json_schema`, or remove `jsonSchema`."),
    Rule("PG104", "response-format-invalid", E, "`responseFormat` is not `text`, `json_object` or `json_schema`.",
         "Use one of the three."),
    Rule("PG105", "value-type", E, "A value gh-models cannot read as written: a list or mapping where text is "
         "expected, a quoted number in `modelParameters`, `testData` not a list of mappings, a value out of range.",
         "Write the value with the type and range shown."),
    Rule("PG106", "integer-overflow", E, "An integer larger than gh-models can hold (a 64-bit integer).",
         "Use a realistic value."),
    Rule("PG107", "max-tokens-fraction", W, "`maxTokens` has a fraction: gh-models truncates it.",
         "Write a whole number."),
    Rule("PG108", "key-ignored", W, "A key gh-models ignores, at any level (e.g. `messages[].name`, "
         "`string.caseSensitive`, an evaluator's `threshold`, `llm.model`, `llm.modelParameters`).",
         "Remove it, or fix its spelling.", ignored=True),
    Rule("PG109", "parameter-snake-case", W, "A snake_case model parameter (`max_tokens`): gh-models reads only "
         "camelCase.", "Write `maxTokens` / `topP`.", ignored=True),
    Rule("PG110", "model-invalid", E, "`model` is neither a models.yaml name nor an id `gh models` accepts "
         "(`publisher/model` or `provider/publisher/model`, no part empty).", "Name a model, e.g. `openai/gpt-4o-mini`."),
    Rule("PG111", "model-missing", W, "No `model`: the workflow or gate.yaml must supply it.",
         "Add `model:` if nothing else supplies one."),
    Rule("PG112", "model-missing-for-eval", E, "The file is a regression suite (it has `testData`) but neither it "
         "nor gate.yaml names a model: the model would be called with an empty model id.",
         "Add `model:` to the file, or a `target:` to the suite in gate.yaml."),
    Rule("PG120", "message-role", E, "A message's role is missing or not system, user or assistant.",
         "Use one of the three roles."),
    Rule("PG121", "messages-missing", W, "No `messages`: the prompt sends nothing.", "Add messages."),
    Rule("PG130", "placeholder-spaced", W, "`{{ name }}` with spaces: gh-models substitutes only `{{name}}`.",
         "Remove the spaces.", ignored=True),
    Rule("PG131", "placeholder-go-template", W, "`{{.name}}` is the old Go-template syntax, no longer substituted.",
         "Write `{{name}}`.", ignored=True),
    Rule("PG132", "placeholder-unsupplied", W, "A placeholder no `testData` row supplies stays literal: the model or "
         "the evaluator sees `{{name}}`.", "Add the key to the testData rows, or fix the name.", ignored=True),
    Rule("PG133", "builtin-variable-missing", W, "A built-in evaluator reads `{{input}}` (similarity and groundedness "
         "also `{{expected}}`) from testData; without it every case is scored against the literal text.",
         "Add `input` (and `expected`) to every testData row.", ignored=True),
    Rule("PG140", "evaluator-method-missing", E, "An evaluator has none of `string`, `llm` or `uses`: "
         "`gh models eval` aborts.", "Give it one."),
    Rule("PG141", "evaluator-shadowed", W, "An evaluator has more than one of `string`, `llm`, `uses`: only the first "
         "in that order is used.", "Split it into two evaluators.", ignored=True),
    Rule("PG142", "string-criterion-missing", E, "A `string` evaluator without a non-empty `equals`, `contains`, "
         "`startsWith` or `endsWith`: `gh models eval` aborts.", "Add one criterion."),
    Rule("PG143", "string-criterion-unused", W, "A second string criterion: only the first of equals > contains > "
         "startsWith > endsWith counts.", "Split it into two evaluators.", ignored=True),
    Rule("PG144", "llm-evaluator-incomplete", E, "An `llm` evaluator without `modelId`, `prompt` or `choices`.",
         "Add the missing key."),
    Rule("PG145", "builtin-unknown", E, "`uses:` names no built-in evaluator: every case fails.",
         "Use one of github/similarity, coherence, fluency, relevance, groundedness."),
    Rule("PG146", "evaluator-name", W, "An evaluator without a name, or with a name used twice.",
         "Give every evaluator its own name."),
    Rule("PG150", "version-invalid", E, "`version` is not a version like 1, 1.2 or 1.2.3 (semver).",
         "Write e.g. `version: 1.2.0`."),
    Rule("PG151", "version-number", W, "`version` is a YAML number: 1.10 reads as 1.1.", "Quote it: `version: '1.10'`."),
    Rule("PG200", "models-invalid", E, "models.yaml is invalid: a wrong value, a dangling or cyclic fallback.",
         "Fix the entry shown."),
    Rule("PG300", "version-not-bumped", E, "The prompt changed against the base ref, but its version is not higher "
         "(or it went down).", "Raise `version`."),
    Rule("PG301", "version-missing", E, "A new or changed prompt has no `version`.", "Add `version: 1.0.0`."),
    Rule("PG302", "prompt-removed", N, "A prompt file of the base ref is gone.", "Nothing, if intended."),
    Rule("PG303", "base-not-compared", W, "Versions could not be compared with the base ref (no git, shallow clone).",
         "Fetch the base branch (`fetch-depth: 0`)."),
    Rule("PG310", "gate-setting-changed", W, "A setting of gate.yaml, or a price models.yaml states, was added, changed "
         "or removed since the base ref: the change is judged by settings it wrote itself.",
         "Nothing, if a reviewer agrees; else restore the base's value. The change's own ignores do not silence it."),
    Rule("PG400", "secret-literal", E, "A literal credential in a file the gate reads.",
         "Move it to an environment variable and rotate it; mark a false positive with `# gate: allow-secret`."),
)
RULES = {r.id: r for r in _RULES}
BY_NAME = {r.name: r for r in _RULES}


def rule(key: str) -> Rule:
    return RULES[key] if key in RULES else BY_NAME[key]
