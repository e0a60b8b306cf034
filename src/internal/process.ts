/**
 * Whether a process exists, for the data directory's lock and the MapReduce workers' liveness.
 * @internal
 */

/**
 * Whether process `pid` runs on this machine. `kill(pid, 0)` sends nothing: it fails with ESRCH when
 * no such process exists, and with EPERM when one does that belongs to another user.
 */
export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}
