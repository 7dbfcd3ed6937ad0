// The /proc socket reader lives in the cluster package (the port-junk benchmark uses it too).
export { listeningAddresses, isLoopback } from '@cohort/cluster';
