// One view of a tunnel end, whether our daemon or charon: the single established IKE SA with its single
// installed Child SA (SPIs as each reports them), and the operator's commands on it (our CLI, swanctl).
import type { Charon } from "../harness/index.js";
import type { Daemon } from "./daemon.js";
import { CHILD, CONN } from "./setup.js";

export interface TunnelView {
  /** IKE SPIs "initiator_responder", 16 hex digits each. */
  ike: string;
  /** Child SA SPIs as this end names them (8 hex digits). */
  spiIn: string;
  spiOut: string;
}

export interface TunnelEnd {
  name: string;
  /** The tunnel once settled (one IKE SA, one Child SA, nothing left over from a rekey), else undefined. */
  view(): Promise<TunnelView | undefined>;
  /** Number of IKE SAs, whatever their state. */
  count(): Promise<number>;
  /** Resolves with the command's output once the Child SA is up. */
  initiate(): Promise<string>;
  terminate(): Promise<void>;
  rekeyChild(): Promise<void>;
  rekeyIke(): Promise<void>;
  /** Log tail for failure messages. */
  diagnostics(): string;
}

export function ours(d: Daemon): TunnelEnd {
  return {
    name: `ours (${d.label})`,
    async view() {
      // Half-open SAs (an IKE_SA_INIT answered, nothing since) are not the tunnel.
      const sas = (await d.listSas()).filter((x) => x.establishedSecondsAgo !== undefined);
      const s = sas[0], c = s?.children[0];
      if (sas.length !== 1 || s.state !== "established" || s.children.length !== 1 || c.state !== "installed") return undefined;
      return { ike: `${s.spiI}_${s.spiR}`, spiIn: c.spiIn, spiOut: c.spiOut };
    },
    count: async () => (await d.listSas()).length,
    async initiate() { return (await d.cli(["--initiate", "--child", CHILD])).stdout; },
    async terminate() { await d.cli(["--terminate", "--ike", CONN]); },
    async rekeyChild() { await d.cli(["--rekey", "--child", CHILD]); },
    async rekeyIke() { await d.cli(["--rekey", "--ike", CONN]); },
    diagnostics: () => d.logTail(),
  };
}

export function strongswan(c: Charon): TunnelEnd {
  return {
    name: "charon",
    async view() {
      const sas = await c.listSas();
      const s = sas[0], ch = s?.children[0];
      if (sas.length !== 1 || s.state !== "ESTABLISHED" || s.children.length !== 1 || ch.state !== "INSTALLED") return undefined;
      return { ike: `${s.initiatorSpi}_${s.responderSpi}`, spiIn: ch.spiIn, spiOut: ch.spiOut };
    },
    count: async () => (await c.listSas()).length,
    async initiate() { return (await c.initiate(CHILD)).stdout; },
    async terminate() { await c.terminate({ ike: CONN }); },
    async rekeyChild() { await c.rekey({ child: CHILD }); },
    async rekeyIke() { await c.rekey({ ike: CONN }); },
    diagnostics: () => c.diagnostics(20),
  };
}

/** Both ends' views once they are settled and agree (same IKE SPIs, Child SPIs mirrored). */
export async function agreed(x: TunnelEnd, y: TunnelEnd): Promise<TunnelView | undefined> {
  const [vx, vy] = await Promise.all([x.view(), y.view()]);
  if (!vx || !vy) return undefined;
  return vx.ike === vy.ike && vx.spiIn === vy.spiOut && vx.spiOut === vy.spiIn ? vx : undefined;
}
