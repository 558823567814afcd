import { PowernodeError, type ModuleBuildReportedData } from '@powernode/contracts';
import { parseReference, type OciReference } from '@powernode/oci';

/**
 * Where the artifact of a build report lives: the reference CI reported, else
 * `<registry>/<repository full name>:<tag>` (lowercased: OCI repository names are). A reported reference
 * without a tag or digest gets the report's tag. Throws `manifest_invalid` when no valid reference results.
 */
export function artifactReferenceFor(
  report: Pick<ModuleBuildReportedData, 'artifact_ref' | 'repository_full_name' | 'tag'>,
  defaultRegistry: string,
): OciReference {
  const reported = report.artifact_ref.trim();
  const text = reported !== '' ? reported : `${defaultRegistry}/${report.repository_full_name.toLowerCase()}:${report.tag}`;
  let reference: OciReference;
  try {
    reference = parseReference(text, { defaultRegistry });
  } catch (cause) {
    throw new PowernodeError('manifest_invalid', `the build report names no usable artifact: ${(cause as Error).message}`, {
      cause,
      details: { artifact_ref: text },
    });
  }
  if (reference.tag === undefined && reference.digest === undefined) {
    try {
      return parseReference(`${text}:${report.tag}`, { defaultRegistry });
    } catch (cause) {
      throw new PowernodeError('manifest_invalid', `the build report names no usable artifact: ${(cause as Error).message}`, {
        cause,
        details: { artifact_ref: text },
      });
    }
  }
  return reference;
}
