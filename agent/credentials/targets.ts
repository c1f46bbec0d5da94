// Where credentials go: the user's kubeconfig, AWS config, gcloud folder and ssh-agent — or, while
// the embedded demo is the connection in force, files under a home of its own inside the agent's.
import os from 'node:os';
import path from 'node:path';
import type { Connection } from '../store/agent-store';
import type { CredentialsStore } from '../store/credentials-store';
import { awsConfigPath } from './aws-config';
import { kubeconfigPath } from './kubeconfig';

/** Where the embedded demo's credentials go: a home of its own inside the agent's. */
export function demoUserHome(agentHome: string): string {
  return path.join(agentHome, 'demo-user-home');
}

/** The demo's kubeconfig and AWS config, for `pim env` / `pim shell-init` to point a terminal at. */
export function demoTargets(agentHome: string): { KUBECONFIG: string; AWS_CONFIG_FILE: string } {
  const h = demoUserHome(agentHome);
  return { KUBECONFIG: path.join(h, '.kube', 'config'), AWS_CONFIG_FILE: path.join(h, '.aws', 'config') };
}

export class CredentialTargets {
  /** $PIM_HOME/creds: the helper, credential files, seeds, status files */
  readonly credsDir: string;

  constructor(
    private readonly agentHome: string,
    /** the connection in force, read from agent.db */
    private readonly connection: () => Connection | null,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
    private readonly baseHomedir: string = os.homedir(),
  ) {
    this.credsDir = path.join(agentHome, 'creds');
  }

  /** Read from agent.db on every use, never cached: a long-running host outlives connections (the
   *  demo enrols, or the user enrols with a real control plane from the demo's UI), and credentials
   *  must go where the connection in force now says. */
  get demo(): boolean {
    return this.connection()?.demo === true;
  }

  get env(): NodeJS.ProcessEnv {
    if (!this.demo) return this.baseEnv;
    // the demo's clusters and AWS accounts are made up: its credentials go to files under its own
    // home, never into the user's ~/.kube/config, ~/.aws/config or ssh-agent (`pim env` and
    // `pim shell-init` point a terminal there)
    const { KUBECONFIG: _k, AWS_CONFIG_FILE: _a, SSH_AUTH_SOCK: _s, ...rest } = this.baseEnv;
    return rest;
  }

  get homedir(): string {
    return this.demo ? demoUserHome(this.agentHome) : this.baseHomedir;
  }

  kubeconfigFile(): string {
    return kubeconfigPath(this.env, this.homedir);
  }

  awsConfigFile(): string {
    return awsConfigPath(this.env, this.homedir);
  }

  /** The pim-cred helper our kube, AWS and GCP entries run. */
  helperPath(): string {
    return path.join(this.credsDir, 'bin', 'pim-cred');
  }
}

/** Where credentials go (kubeconfig, AWS config, ssh-agent) is configuration: when it moves
 *  ($KUBECONFIG, $AWS_CONFIG_FILE or SSH_AUTH_SOCK changed), the journal says so (config-changed).
 *  Returns the record to journal, if any. */
export function noteTargets(
  targets: CredentialTargets,
  store: CredentialsStore,
): { type: 'config-changed'; data: Record<string, unknown> } | null {
  const now = {
    kubeconfig: targets.kubeconfigFile(),
    awsConfig: targets.awsConfigFile(),
    sshAgent: targets.env.SSH_AUTH_SOCK ?? null,
  };
  const text = JSON.stringify(now);
  const prev = store.credentialTargets();
  if (prev === text) return null;
  store.setCredentialTargets(text);
  if (prev === undefined) return null;
  return { type: 'config-changed', data: { what: 'credential-targets', from: JSON.parse(prev) as unknown, to: now } };
}
