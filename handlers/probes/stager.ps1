# wsusbot-probe: stager v1
# Runs the probe script sent on stdin (docs/probes.md, "Transport"): the probe can be far
# larger than a command line may be, so only this stager travels as -EncodedCommand.
$ErrorActionPreference = 'Stop'
$global:WsusbotExitCode = 0
$wsusbotScript = [Console]::In.ReadToEnd().TrimStart([char]0xFEFF)
if (-not $wsusbotScript.StartsWith('# wsusbot-probe: ')) {
    [Console]::Error.WriteLine('wsusbot stager: stdin does not hold a wsusbot probe script')
    exit 1
}
& ([ScriptBlock]::Create($wsusbotScript))
exit $global:WsusbotExitCode
