// AdmissionReview v1 types (client-node has none) and the contract between
// the operator and the HTTPS server that serves admission webhooks.

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: Record<string, unknown> | null;
  oldObject?: Record<string, unknown> | null;
  dryRun?: boolean;
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

/** What a handler decides; the server turns it into an AdmissionReview response. */
export type AdmissionDecision =
  | { allowed: true; patch?: JsonPatchOperation[]; warnings?: string[] }
  | { allowed: false; code?: number; message: string };

export type AdmissionHandler = (request: AdmissionRequest) => Promise<AdmissionDecision>;

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: {
    uid: string;
    allowed: boolean;
    status?: { code?: number; message?: string };
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

/** Implemented by the webhook server; the operator registers handlers on it and starts/stops it with the watches. */
export interface AdmissionWebhookHost {
  register(path: string, handler: AdmissionHandler): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  isServing(): boolean;
}
