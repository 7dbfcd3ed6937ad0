// @cohort/cluster: the runtime over many machines. NATS is the control plane
// (membership, events, state in JetStream KV); gRPC is the data plane.
export { pidAlive } from '@cohort/runtime';
export { startNatsServer, stopPid, DEFAULT_NATS_SERVER_BIN, type NatsServerOptions, type NatsServerHandle } from './nats-server.js';
export { connectCluster, ClusterAuthError, ClusterUnreachableError, type ClusterConnectOptions, type NatsAuth } from './nats-connect.js';
export {
  ClusterConfigSchema,
  ClusterConfigError,
  loadClusterConfig,
  parseClusterConfig,
  validateClusterConfig,
  nodeTypeResources,
  resolveToken,
  headNatsPort,
  parseBytes,
  type ClusterConfig,
  type NodeTypeConfig,
  type SecurityConfig,
} from './cluster-config.js';
export {
  ClusterStateStore,
  TypedTable,
  StateCorruptError,
  StaleRevisionError,
  NodeRecordSchema,
  ActorRecordSchema,
  PlacementGroupRecordSchema,
  HeadRecordSchema,
  type NodeRecord,
  type ActorRecord,
  type PlacementGroupRecord,
  type HeadRecord,
  type Versioned,
  type StateStoreOptions,
} from './state-store.js';
export {
  NodeHeartbeat,
  MembershipMonitor,
  membershipSubjects,
  NodeAnnouncementSchema,
  NodeEventSchema,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_NODE_TIMEOUT_MS,
  type NodeAnnouncement,
  type NodeEvent,
  type HeartbeatOptions,
  type MonitorOptions,
} from './membership.js';
export {
  TOKEN_METADATA_KEY,
  checkTokenMetadata,
  HOW_TO_PASS,
  tokenServerInterceptor,
  tokenClientInterceptor,
  serverCredentials,
  channelCredentials,
  type TlsPaths,
} from './security.js';
export { dataPlaneExtras, workerDataPlaneEnv, endpointOptionsFromEnv, advertisedHost, isWildcardHost, WORKER_ENDPOINT_SETUP, WORKER_ENV, type DataPlaneOptions } from './data-plane.js';
export { clusterLogger, childLogger } from './log.js';
export { ClusterHead, discoverCluster, DISCOVER_SUBJECT, ClusterInfoSchema, type ClusterInfo, type HeadOptions } from './head.js';
export { NodeAgent, detectResources, detectGpus, type NodeAgentOptions } from './node-agent.js';
export { readClusterStatus, formatClusterStatus, type ClusterStatus, type NodeStatus, type ActorStatus, type PlacementGroupStatus } from './cluster-status.js';
export { resolveClusterTarget, resolveClusterName, connectTarget, targetNote, ClusterGoneError, type ClusterTarget, type ClusterTargetInput } from './cluster-target.js';
export {
  CurrentClusterSchema,
  currentClusterFile,
  recordCurrentCluster,
  readCurrentCluster,
  forgetCurrentCluster,
  describeCurrentCluster,
  currentClusterGone,
  type CurrentCluster,
} from './current-cluster.js';
export {
  localUp,
  localDown,
  localStateDir,
  readLocalState,
  localToken,
  plannedNodes,
  COHORT_BIN,
  LocalClusterStateSchema,
  type LocalClusterState,
  type LaunchedProcess,
  type LocalUpOptions,
} from './launcher/local-provider.js';
export { startScratchCluster, type ScratchCluster, type ScratchClusterOptions } from './launcher/scratch-cluster.js';
export { sshUpPlan, sshDownPlan, sshNodes, sshNatsUrl, runSshPlan, formatStep, shQuote, SSH_READY_TIMEOUT_S, SSH_STOP_TIMEOUT_S, type SshStep } from './launcher/ssh-provider.js';
export { ClusterControlPlane, AGENT_OPS, HEAD_WORKER_EXIT, type ClusterControlPlaneOptions, type WorkerExitReport } from './cluster-control-plane.js';
export { startClusterHead, DRIVER_HELLO, type ClusterHeadService, type ClusterHeadServiceOptions } from './head-service.js';
export { startClusterNode, type ClusterNode, type ClusterNodeOptions } from './agent-service.js';
export { connect, type ConnectOptions, type ClusterRuntime } from './connect.js';
export { listeningAddresses, isLoopback } from './proc-sockets.js';
export { NatsLogSink, fanoutLogger, logSubject, actorEventSubject } from './log-fanout.js';
