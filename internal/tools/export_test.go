package tools

// ParseKubectlArgs exposes the kubectl argument check to the external tests.
func ParseKubectlArgs(args []string, haveStdin, allowSecretValues bool) (verb string, mutates bool, err error) {
	call, err := parseKubectlArgs(args, haveStdin, allowSecretValues)
	return call.verb, call.mutates(), err
}
