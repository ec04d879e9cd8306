import {checkHelpUri, type ContainerCheck, factsOf, imageLabel} from './types.js'

// The names only: the value is a secret and is never printed (nor kept: see image-facts.ts).
export const imageSecretInConfig: ContainerCheck = {
  id: 'image-secret-in-config',
  kind: 'container',
  severity: 'high',
  title: 'Image config holds a credential',
  description:
    'An ENV or LABEL of the image looks like a credential (dockle CIS-DI-0010): whoever can pull the image can read it (`docker inspect`), in every registry and cache it reaches.',
  helpUri: checkHelpUri('image-secret-in-config'),
  fix: 'Remove the value from the Dockerfile, rotate the credential, and give it at run time from a Secret (env valueFrom.secretKeyRef or a mounted file).',
  run(target, context) {
    const all = factsOf(target, context)
    return all.flatMap((facts) =>
      facts.secrets.map(
        (secret) =>
          `${imageLabel(facts, all)} has ${secret.where} ${secret.name}: ${secret.reason} (the value is not shown)`,
      ),
    )
  },
}
