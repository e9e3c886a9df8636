/**
 * The grammars of the places input strings reach in generated files: Docker image references, Debian
 * package names, relative paths that a Dockerfile copies, environment variable names, Kubernetes
 * label values and DNS labels. Every string from the spec or the configs is checked against the
 * grammar of where it goes before anything is generated, so none can add a Dockerfile instruction, a
 * shell command or a YAML key. Each check returns why a value does not fit, or undefined.
 */

/** A Docker reference's path component (distribution/reference): lowercase words joined by `.`, `_`, `__` or dashes. */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
/** A registry host: DNS-like components, an optional port. */
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

/** `[host[:port]/]path[/path...]`: a repository name, as `registry` in the spec (the images' prefix). */
export const REPOSITORY = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
export const IMAGE_TAG = new RegExp(`^${TAG}$`);

/** Why `ref` is not a pinned image reference (a tag other than `latest`, or a digest). */
export function imageReferenceProblem(ref: string): string | undefined {
  const m = REFERENCE.exec(ref);
  if (!m || ref.length > 255 + 128 + 72)
    return 'is not an image reference (name[:tag][@digest], lowercase name, no spaces)';
  if (!m[1] && !m[2]) return 'is not pinned: give it a tag or a digest';
  if (m[1] === 'latest' && !m[2]) return 'is pinned to latest, which moves: give it a version tag or a digest';
  return undefined;
}

/**
 * A Debian package, optionally with an architecture and a version (`libgl1`, `libc6:amd64`,
 * `ffmpeg=7:5.1.6-0+deb12u1`): the names Debian policy allows, nothing a shell would read.
 */
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[0-9][A-Za-z0-9.+~:-]*)?$/;

export function debianPackageProblem(name: string): string | undefined {
  return DEBIAN_PACKAGE.test(name)
    ? undefined
    : 'is not a Debian package name (lowercase letters, digits, + . -, optionally :arch and =version)';
}

/**
 * A path relative to the root of the source tree, as a Dockerfile copies it: `/`-separated words of
 * letters, digits and `_ . @ + -`, no `..`, no leading `/`, no whitespace, quotes, `$` or backslash.
 */
const RELATIVE_PATH = /^[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*$/;

export function relativePathProblem(path: string): string | undefined {
  if (!RELATIVE_PATH.test(path))
    return path.startsWith('/')
      ? 'must be relative to the root of the source tree, not absolute'
      : 'is not a plain relative path (letters, digits, _ . @ + - and /; no spaces, quotes, $ or backslashes)';
  if (path.split('/').some((c) => c === '..' || c === '.'))
    return "must stay inside the source tree: no '..' or '.' components";
  return undefined;
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function envNameProblem(name: string): string | undefined {
  return ENV_NAME.test(name)
    ? undefined
    : 'is not an environment variable name (letters, digits and _, not starting with a digit)';
}

/** A Kubernetes label value: at most 63 characters, alphanumerics and `- _ .` inside. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function labelValueProblem(value: string): string | undefined {
  return LABEL_VALUE.test(value)
    ? undefined
    : 'is not a Kubernetes label value (at most 63 letters, digits, - _ ., starting and ending with a letter or digit)';
}

/** A DNS label (RFC 1123): what Kubernetes names Services, namespaces and containers with. */
export const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS subdomain (RFC 1123): dot-separated labels, at most 253 characters (RuntimeClass names). */
export function dnsSubdomainProblem(name: string): string | undefined {
  return name.length <= 253 && name.split('.').every((l) => DNS_LABEL.test(l))
    ? undefined
    : 'is not a DNS subdomain (lowercase labels of letters, digits and dashes, joined by dots)';
}

/** `NVIDIA GeForce RTX 4090` -> `NVIDIA-GeForce-RTX-4090`, as GPU Feature Discovery writes the product label. */
export function gpuProductLabel(model: string): string {
  return model.trim().replace(/\s+/g, '-');
}

/** Values of `nvidia.com/gpu.product` that a card of `model` may carry: plain, and `-SHARED` under time-slicing. */
export function gpuProductValues(model: string): string[] {
  const p = gpuProductLabel(model);
  return [p, `${p}-SHARED`];
}

/** Text safe inside a one-line comment of a generated file: control characters (a newline) replaced. */
export function commentText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, '?');
}

/** A literal value for a compose file: `$` doubled, so that compose does not interpolate it. */
export const composeLiteral = (value: string): string => value.replaceAll('$', '$$$$');

/** A literal value for a Kubernetes env var: `$(` escaped as `$$(`, so that the kubelet does not expand it. */
export const kubernetesLiteral = (value: string): string => value.replaceAll('$(', '$$$$(');

const PIP_URL = /^(?:https?|file):\/\/[A-Za-z0-9._~:/?#[\]@!&()*+,;=%-]+$/;
const PIP_PATH = /^\/[A-Za-z0-9._/@+-]+$/;

/**
 * Where pip may look for packages, as a Dockerfile `ARG` default: an http(s) or file URL, or an
 * absolute path in the builder; no spaces, quotes or `$`, and no credentials (a Dockerfile is no place
 * for them: pass such a URL at build time).
 */
export function pipLocationProblem(s: string): string | undefined {
  if (!PIP_URL.test(s) && !PIP_PATH.test(s))
    return 'is not a package index URL (http, https or file) or an absolute path without spaces, quotes or $';
  if (/^[a-z]+:\/\/[^/]*@/.test(s))
    return 'holds credentials, which would be written into the Dockerfile: pass the URL at build time (--build-arg) instead';
  return undefined;
}
