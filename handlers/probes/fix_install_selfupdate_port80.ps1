# wsusbot-probe: fix_install_selfupdate_port80 v1
# Fix server.install_selfupdate_port80: runs WSUS's own
# cscript "<WSUS install dir>\setup\InstallSelfupdateOnPort80.vbs", which creates the
# Selfupdate virtual directory (and its content) on the site bound to port 80. The install
# dir is HKLM\SOFTWARE\Microsoft\Update Services\Server\Setup\TargetDir. Params: none.

function Invoke-WsusbotProbe_fix_install_selfupdate_port80 {
    param($P, $Result)

    function Read-SelfupdateState {
        $state = New-WsusbotMap
        $state['port80_site'] = $null
        $state['selfupdate_physical_path'] = $null
        $state['selfupdate_exists'] = $false
        $site = Find-WsusbotPort80Site (Get-WsusbotIisSites (New-WsusbotList))
        if ($null -eq $site) { return ,$state }
        $state['port80_site'] = $site['name']
        $vdir = Find-WsusbotVdir $site '/Selfupdate'
        if ($null -ne $vdir) {
            $state['selfupdate_physical_path'] = $vdir['physical_path']
            $state['selfupdate_exists'] = ($vdir['exists'] -eq $true)
        }
        return ,$state
    }

    $dir = Get-WsusbotRegValue 'SOFTWARE\Microsoft\Update Services\Server\Setup' 'TargetDir'
    if (-not $dir) { throw 'WSUS is not installed (no Update Services\Server\Setup\TargetDir)' }
    $script = ([string]$dir).TrimEnd('\') + '\setup\InstallSelfupdateOnPort80.vbs'
    if (-not [System.IO.File]::Exists($script)) { throw "$script does not exist" }
    $before = Read-SelfupdateState
    $Result['before'] = $before
    if ($null -eq $before['port80_site']) { throw 'no started IIS site is bound to http port 80: create or start one first' }

    # cmd merges stderr into stdout so one pipe is read and neither can fill up and block
    $start = New-Object System.Diagnostics.ProcessStartInfo ($env:SystemRoot + '\system32\cmd.exe')
    $start.Arguments = '/d /c ""' + $env:SystemRoot + '\system32\cscript.exe" //NoLogo "' + $script + '" 2>&1"'
    $start.UseShellExecute = $false
    $start.RedirectStandardOutput = $true
    $start.CreateNoWindow = $true
    [void]$Result['log'].Add('running cscript "' + $script + '"')
    $process = [System.Diagnostics.Process]::Start($start)
    $output = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    foreach ($line in $output.Replace("`r", '').Split("`n")) {
        if ($line.Trim()) { [void]$Result['log'].Add($line.TrimEnd()) }
    }
    [void]$Result['log'].Add('cscript exit code ' + $process.ExitCode)
    $after = Read-SelfupdateState
    $Result['after'] = $after
    $Result['changed'] = Test-WsusbotDifferent $before $after
    if ($process.ExitCode -ne 0) { throw ('InstallSelfupdateOnPort80.vbs exited with ' + $process.ExitCode) }
    if (-not $after['selfupdate_exists']) { throw 'the port-80 site still has no Selfupdate virtual directory with an existing path' }
}
