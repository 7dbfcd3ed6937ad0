// @cohort/dashboard: the head's web dashboard, Prometheus metrics and run plots.
export {};
