"""SWE-bench-format datasets: instance environments as images, tasks, grading by
FAIL_TO_PASS and PASS_TO_PASS per test. The adapter is `benchmarks.swebench.adapter`; this
package's import stays light because `benchmarks.reports` imports its parsers."""
