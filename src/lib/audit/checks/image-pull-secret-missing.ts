import {credentialMatchesImage} from '../../image/docker-config.js'
import {registryMatches} from '../../policy/policy.js'
import {checkHelpUri, type ContainerCheck} from './types.js'

export const imagePullSecretMissing: ContainerCheck = {
  id: 'image-pull-secret-missing',
  kind: 'container',
  severity: 'high',
  title: 'Image from a private registry without a matching pull secret',
  description:
    "An image from a private registry needs a pull secret that matches the registry (by the kubelet's rules) in the pod or its service account; without one the pod fails with ImagePullBackOff, or works only on nodes that still have the image.",
  helpUri: checkHelpUri('image-pull-secret-missing'),
  fix: 'Create one with `kubectl imgsec create-regcred … --attach-to-sa <serviceaccount>` or list it in imagePullSecrets.',
  run({reference, image}, context) {
    if (!reference) return []
    const declaredPrivate = context.policy.privateRegistries.some((pattern) => registryMatches(pattern, reference))
    const hasNamespaceSecret = (context.namespacePullSecretServers ?? []).some((server) =>
      credentialMatchesImage(server, reference),
    )
    // Public registries are never flagged: only registries declared private, or (in a cluster)
    // registries someone created a pull secret for.
    if (!declaredPrivate && !hasNamespaceSecret) return []
    if (context.usablePullSecretServers !== undefined) {
      if (context.usablePullSecretServers.some((server) => credentialMatchesImage(server, reference))) return []
      const names = context.usablePullSecretNames
      return [
        `${image} comes from private registry ${reference.registry}, but ${names.length > 0 ? `none of the pod's pull secrets (${names.join(', ')}) is for that registry` : 'neither the pod nor its service account references a pull secret'}`,
      ]
    }
    // Secret contents unknown (files without the Secrets): any referenced pull secret may be the right one.
    if (context.usablePullSecretNames.length > 0) return []
    return [
      `${image} comes from private registry ${reference.registry}, but neither the pod nor its service account references a pull secret`,
    ]
  },
}
