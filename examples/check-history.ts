// Check a history for linearizability with the KV model: a get that missed a completed put.
//   npx tsx examples/check-history.ts
import { KvModel, Linearizability } from "../src/check/index.js"

export const history: ReadonlyArray<KvModel.Operation> = [
  { clientId: 0, input: { op: "put", key: "x", value: "1" }, output: {}, call: 0, return: 10 },
  { clientId: 1, input: { op: "get", key: "x" }, output: { value: "" }, call: 20, return: 30 },
  { clientId: 2, input: { op: "append", key: "x", value: "2" }, output: undefined, call: 5, return: undefined }
]

export const result = Linearizability.checkHistory(KvModel.model, history, { timeoutMs: 1000, now: () => performance.now() })
if (result._tag !== "Ok") console.log(Linearizability.explain(KvModel.model, history, result))
