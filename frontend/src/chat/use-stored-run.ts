/**
 * The reply in progress of this tab, as the chat view sees it: which run to
 * resume after a reload (and with which transport), and the bookkeeping that
 * keeps `sessionStorage` in step with the run (run-store.ts).
 */
import { useCallback, useMemo, useRef, useState } from "react";
import { clearRun, loadRun, type StoredRun, saveRun } from "./run-store";
import type { ChatTransportChoice } from "./transport-setting";

/** What the view tells us when it sends a message. */
export interface TurnRecord {
  text: string;
  transport: ChatTransportChoice;
  conversationId: string | null;
  /** Messages shown before this turn's user message. */
  baseline: number;
}

export interface UseStoredRunReturn {
  /** The transport of the run being resumed (it keeps the one it started on), else null. */
  resumeTransport: StoredRun["transport"] | null;
  /** Stable callbacks for the transports' options. */
  run: {
    /** The run to resume at mount (`getResumeKey`). */
    getResumeKey: () => string | null;
    /** `onRunIdChange`: a new run id is stored with its turn; `null` forgets it. */
    onRunIdChange: (runId: string | null) => void;
    /** Called at every send, before the transport starts. */
    beginTurn: (turn: TurnRecord) => void;
    /** A new chat learned its id: the stored run belongs to it. */
    conversationLearned: (id: string) => void;
    /** True until the resumed run ends (then failures read as usual). */
    isResuming: () => boolean;
    /** The resumed run ended (finished, failed or stopped). */
    endResume: () => void;
  };
}

export function useStoredRun(resume: StoredRun | null): UseStoredRunReturn {
  const [resumeTransport, setResumeTransport] = useState(resume?.transport ?? null);
  // Fixed for the life of the view: the run found at mount is resumed once.
  const [resumeId] = useState(resume?.runId ?? null);
  // Refs, not state: the transports call these between renders.
  const resumingRef = useRef(resume !== null);
  const runIdRef = useRef<string | null>(resume?.runId ?? null);
  const turnRef = useRef<TurnRecord | null>(
    resume
      ? {
          text: resume.text,
          transport: resume.transport,
          conversationId: resume.conversationId,
          baseline: resume.baseline,
        }
      : null,
  );

  const endResume = useCallback(() => {
    resumingRef.current = false;
    setResumeTransport(null);
  }, []);

  const run = useMemo<UseStoredRunReturn["run"]>(
    () => ({
      getResumeKey: () => resumeId,
      onRunIdChange(runId) {
        const turn = turnRef.current;
        if (runId && turn) {
          runIdRef.current = runId;
          saveRun({
            runId,
            transport: turn.transport === "websocket" ? "websocket" : "background-sse",
            conversationId: turn.conversationId,
            text: turn.text,
            baseline: turn.baseline,
          });
        } else if (!runId) {
          clearRun(runIdRef.current ?? undefined);
          runIdRef.current = null;
        }
      },
      beginTurn(turn) {
        turnRef.current = { ...turn };
      },
      conversationLearned(id) {
        if (turnRef.current) turnRef.current.conversationId = id;
        const stored = loadRun();
        if (stored && stored.runId === runIdRef.current && stored.conversationId !== id) {
          saveRun({ ...stored, conversationId: id });
        }
      },
      isResuming: () => resumingRef.current,
      endResume,
    }),
    [endResume, resumeId],
  );

  return { resumeTransport, run };
}
