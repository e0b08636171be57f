// The e2e harness: network namespaces, strongSwan peers, packet capture and tshark decoding.
export * from "./exec.js";
export * from "./registry.js";
export * from "./netns.js";
export * from "./swanctl-conf.js";
export * from "./sas.js";
export * from "./charon-log.js";
export * from "./strongswan.js";
export * from "./capture.js";
