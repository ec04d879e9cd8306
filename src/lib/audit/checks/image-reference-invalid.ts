import {type Check, policyRuleMessages} from './types.js'

export const imageReferenceInvalid: Check = {
  id: 'image-reference-invalid',
  severity: 'high',
  title: 'Image reference is invalid',
  fix: 'Write the image as [registry[:port]/]repository[:tag][@sha256:digest] with a lowercase repository.',
  run: policyRuleMessages('image-reference-invalid'),
}
