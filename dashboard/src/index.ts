// @cohort/dashboard: the head's web dashboard (cluster, actors, placement
// groups, live training view), Prometheus metrics at /metrics, and the SVG
// plots every training run writes into runs/<name>/.
export type { ClusterSnapshot, DashboardDataSource, NodeView, GpuView, ActorView, PlacementGroupView, PendingView, LogLine, Resources } from './data-source.js';
export { startDashboard, DashboardOptionsSchema, DashboardConfigError, type DashboardOptions, type DashboardServer } from './server.js';
export { clusterDataSource, startClusterDashboard, type ClusterDashboardOptions, type ClusterDashboard } from './cluster-source.js';
export { startHeadDashboard, parseDashboardPort, DEFAULT_DASHBOARD_PORT, type HeadDashboardOptions } from './head-dashboard.js';
export { dashboardSubjects, requestDashboardInfo, requestActorLogs, DashboardInfoSchema, type DashboardInfo } from './dashboard-subjects.js';
export { LogStore, FileTail, parseActorLogLine } from './log-store.js';
export {
  TrainingFeed,
  TrainingStepError,
  trainingStepSchema,
  parseTrainingStep,
  publishTrainingStep,
  openTrainingPublisher,
  type TrainingPublisher,
  trainingSubject,
  RUN_NAME,
  type TrainingStep,
  type TrainingUpdate,
} from './training-feed.js';
export { PromWriter, clusterMetrics, trainingMetrics, escapeLabel } from './prometheus.js';
export { writeRunPlots, rewardPlot, emPlot, emByTypePlot, readMetricsJsonl, readPlotReport, plotReportSchema, type RunPlots, type PlotReport } from './plots/run-plots.js';
export { lineChartSvg, barChartSvg, niceTicks, xmlEscape, type LineSeries, type BarGroup, type ChartFrame } from './plots/svg-chart.js';
