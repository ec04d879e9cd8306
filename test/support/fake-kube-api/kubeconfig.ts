// The kubeconfig that points a client at the fake API server.

export interface KubeconfigOptions {
  namespace?: string
  contextName?: string
  /** CA certificate for an https server: PEM text (base64-encoded for the kubeconfig) or data already in base64 */
  caData?: string
  token?: string
}

function yamlString(value: string): string {
  // A JSON string literal is also a valid YAML double-quoted scalar.
  return JSON.stringify(value)
}

/** A kubeconfig for the server at `url`: a token user, insecure-skip-tls-verify over http, the CA over https. */
export function renderKubeconfig(url: string, options: KubeconfigOptions = {}): string {
  const context = options.contextName ?? 'fake'
  const cluster = [`    server: ${yamlString(url)}`]
  if (url.startsWith('http:')) cluster.push('    insecure-skip-tls-verify: true')
  else if (options.caData) {
    const data = options.caData.includes('-----BEGIN')
      ? Buffer.from(options.caData, 'utf8').toString('base64')
      : options.caData.replace(/\s+/g, '')
    cluster.push(`    certificate-authority-data: ${data}`)
  }
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake-cluster',
    '  cluster:',
    ...cluster,
    'users:',
    '- name: fake-user',
    '  user:',
    `    token: ${yamlString(options.token ?? 'fake-token')}`,
    'contexts:',
    `- name: ${yamlString(context)}`,
    '  context:',
    '    cluster: fake-cluster',
    '    user: fake-user',
    ...(options.namespace ? [`    namespace: ${yamlString(options.namespace)}`] : []),
    `current-context: ${yamlString(context)}`,
    'preferences: {}',
    '',
  ].join('\n')
}
