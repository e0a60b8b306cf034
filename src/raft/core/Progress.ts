/**
 * What a leader knows about one follower, as in etcd-io/raft:
 * - Probe: the leader does not know where the logs match; one AppendEntries at a time finds out.
 * - Replicate: the logs match through `match`; the leader streams entries optimistically (advancing
 *   `next` on send) with up to `maxInflight` AppendEntries outstanding.
 * - Snapshot: the follower needs entries the leader compacted; an InstallSnapshot is in flight.
 * @internal
 */
export type ProgressState = "Probe" | "Replicate" | "Snapshot"

export class Progress {
  match = 0
  next: number
  state: ProgressState = "Probe"
  /** Probe: an AppendEntries is outstanding; wait for its answer (or a heartbeat reply) before the next. */
  probeSent = false
  /** Replicate: last index of each outstanding AppendEntries, ascending. */
  inflights: Array<number> = []
  /** Snapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0
  /** CheckQuorum: when this follower last answered (ms). */
  lastActiveAt: number
  /** ReadIndex: highest read round this follower acknowledged in this term. */
  readAck = 0

  constructor(next: number, private readonly maxInflight: number, now: number) {
    this.next = next
    // A new leader gives every follower one election timeout to answer.
    this.lastActiveAt = now
  }

  get paused(): boolean {
    switch (this.state) {
      case "Probe":
        return this.probeSent
      case "Replicate":
        return this.inflights.length >= this.maxInflight
      case "Snapshot":
        return true
    }
  }

  becomeProbe() {
    // After a snapshot, resume right after it; otherwise right after what is known to match.
    this.next = this.state === "Snapshot" ? Math.max(this.match, this.pendingSnapshot) + 1 : this.match + 1
    this.state = "Probe"
    this.probeSent = false
    this.inflights = []
    this.pendingSnapshot = 0
  }

  becomeReplicate() {
    this.state = "Replicate"
    this.next = this.match + 1
    this.probeSent = false
    this.inflights = []
  }

  becomeSnapshot(index: number) {
    this.state = "Snapshot"
    this.pendingSnapshot = index
    this.probeSent = false
    this.inflights = []
  }

  /** A success says the logs match through `match`. Returns true if that was news. */
  update(match: number): boolean {
    let updated = false
    if (match > this.match) {
      this.match = match
      updated = true
    }
    if (this.next < match + 1) this.next = match + 1
    // Acknowledged appends no longer occupy a slot.
    let free = 0
    while (free < this.inflights.length && this.inflights[free]! <= match) free++
    if (free > 0) this.inflights.splice(0, free)
    return updated
  }
}
