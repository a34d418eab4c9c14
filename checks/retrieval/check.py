"""The `retrieval` check: rank the labelled queries, measure them as trec_eval does, and compare with the base branch."""

from __future__ import annotations

from pathlib import Path

from gate.config import GateConfig
from gate.context import CheckContext
from gate.errors import CheckIncomplete
from gate.extras import Extra, require_extra
from gate.render.words import counted
from gate.report import CheckResult, Status

from .config import SECTION, parse_config


class RetrievalCheck:
    name = "retrieval"
    section = SECTION
    description = "Did retrieval quality on labelled queries get worse than on the base branch?"
    order = 35

    def prepare(self, config: GateConfig) -> None:
        require_extra(config, Extra.RETRIEVAL, [(self.section,)])
        cfg = parse_config(config)
        if cfg.kind in ("http", "command"):  # a python target is imported when the check runs, not to validate
            from .build import build_target

            build_target(config, cfg)  # a spec that cannot be built (a bad url, an unknown key) is exit 2 now

    def run(self, ctx: CheckContext) -> CheckResult:
        from ..regression.metrics import regex_timeouts

        with regex_timeouts():  # a chunk_pattern that keeps timing out is not run on every id of every query
            return self._run(ctx)

    def _run(self, ctx: CheckContext) -> CheckResult:
        from .baseline import comparable, judgements_digest, load_baseline
        from .compare import analyse
        from .inputs import read_inputs
        from .measures import compute
        from .rankings import read_run
        from .report import Run, build_result, judge_coverage

        cfg = parse_config(ctx.config)
        inputs = read_inputs(cfg.queries, cfg.qrels, cfg.corpus, ctx.display)
        defects = list(inputs.defects)
        unknown = 0
        if cfg.run_file is not None:
            run_file = read_run(cfg.run_file, ctx.display(cfg.run_file), inputs.queries, cfg.k)
            defects += run_file.defects
            rankings, failed, calls, retried, unknown = run_file.rankings, {}, 0, 0, len(run_file.unknown)
            rankings.update({q: () for q in inputs.queries if q not in rankings})
        if defects:
            return CheckResult(self.name, Status.FAIL, f"{counted(len(defects), 'defect')} in the labelled files: "
                               "nothing was measured", findings=tuple(defects), metrics={"failure_categories": {}})
        service_exit, log = None, list[str]()
        if cfg.run_file is None:
            from .service import print_log, retrieve_all

            retrieved, log = retrieve_all(ctx, cfg, list(inputs.queries.values()))
            service_exit = retrieved.service_exit
            if inputs.queries and len(retrieved.failed) == len(inputs.queries):
                _, message = next(iter(retrieved.failed.values()))
                stopped = "" if service_exit is None else f" (the service exited with code {service_exit})"
                print_log(ctx, log)
                shown = "; the end of the service's log is in the gate's log" if log else ""
                raise CheckIncomplete(f"the target answered none of the {len(inputs.queries)} queries{stopped}: "
                                      f"{message}{shown}")
            rankings, failed = retrieved.rankings, retrieved.failed
            calls, retried = retrieved.calls, retrieved.retried
        measures = tuple(dict.fromkeys((*cfg.measures, cfg.judged.measure)))
        values = compute(measures, inputs.qrels, rankings, [q for q in inputs.queries if q in rankings])
        if ctx.options.get("baseline"):
            baseline, source, defect = None, "writing a new baseline (gate baseline update)", None
        else:
            baseline, source, defect = load_baseline(ctx, cfg)
        digests = {q: judgements_digest(grades) for q, grades in inputs.qrels.items()}
        # Only the queries judged now as they were when the baseline was measured are compared with it.
        aside = comparable(baseline, digests) if baseline is not None else None
        analysis = analyse(cfg, inputs.queries, values, rankings, inputs.qrels, aside.baseline if aside else None)
        if aside is not None:
            judge_coverage(aside, cfg.gates.min_coverage, analysis)
        run = Run(target=cfg.kind, queries_file=ctx.display(cfg.queries), k=cfg.k, depth=cfg.drift.depth,
                  failed=failed, unlabelled=[q for q in inputs.queries if q not in inputs.qrels],
                  unknown_in_run=unknown, calls=calls, retried=retried, baseline_source=source,
                  baseline_defect=defect, baseline_file=cfg.baseline_rel, service_exit=service_exit,
                  qrels_file=ctx.display(cfg.qrels), qrel_lines=inputs.qrel_lines, digests=digests, set_aside=aside)
        full = bool(ctx.options.get("baseline") or ctx.options.get("full_report"))
        result = build_result(run, analysis, inputs.queries, rankings, values, inputs.titles, full=full,
                              locate=ctx.config_line)
        if result.status in (Status.FAIL, Status.ERROR) and log:
            from .service import print_log

            print_log(ctx, log)
        return result

    def baseline(self, ctx: CheckContext, result: CheckResult) -> list[Path]:
        from .baseline import baseline_data, write_baseline

        cfg = parse_config(ctx.config)
        return [write_baseline(cfg.baseline, baseline_data(result.details))]

    def markdown_details(self, result: CheckResult) -> str:
        from .render import render_details

        if not result.details.get("measures"):
            return ""
        return render_details(result.details)
