import {checkHelpUri, type ContainerCheck, policyRuleMessages} from './types.js'

export const imageReferenceInvalid: ContainerCheck = {
  id: 'image-reference-invalid',
  kind: 'container',
  severity: 'high',
  title: 'Image reference is invalid',
  description:
    'The image string does not follow the reference grammar (e.g. uppercase repository, bad digest): the kubelet cannot pull it, and the policy cannot judge it.',
  helpUri: checkHelpUri('image-reference-invalid'),
  fix: 'Write the image as [registry[:port]/]repository[:tag][@sha256:digest] with a lowercase repository.',
  run: policyRuleMessages('image-reference-invalid'),
}
