# wsusbot-probe: fix_reset_au_state v1
# Fix client.reset_au_state (the seed's registry procedure): under
# HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update set AUState = 2
# (detection pending), delete LastWaitTimeout and DetectionStartTime, then restart
# wuauserv so detection (and the agent's self-update) runs again. Params: none.

function Invoke-WsusbotProbe_fix_reset_au_state {
    param($P, $Result)
    $auStateKey = 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update'

    function Read-AuState {
        $state = New-WsusbotMap
        $state['AUState'] = Get-WsusbotRegValue $auStateKey 'AUState'
        $state['LastWaitTimeout'] = Get-WsusbotRegValue $auStateKey 'LastWaitTimeout'
        $state['DetectionStartTime'] = Get-WsusbotRegValue $auStateKey 'DetectionStartTime'
        $state['wuauserv'] = Get-WsusbotService 'wuauserv'
        return ,$state
    }

    $Result['before'] = Read-AuState
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($auStateKey, $true)
    if ($null -eq $key) { throw "HKLM\$auStateKey does not exist (is the Automatic Updates agent installed?)" }
    try {
        $key.SetValue('AUState', 2, [Microsoft.Win32.RegistryValueKind]::DWord)
        [void]$Result['log'].Add('set AUState = 2')
        foreach ($name in @('LastWaitTimeout', 'DetectionStartTime')) {
            if ($null -ne $key.GetValue($name, $null)) {
                $key.DeleteValue($name, $false)
                [void]$Result['log'].Add("deleted $name")
            }
        }
    } finally { $key.Close() }
    $Result['changed'] = Test-WsusbotDifferent $Result['before'] (Read-AuState)
    if (Stop-WsusbotService 'wuauserv' $Result['log']) { $Result['changed'] = $true }
    if (Start-WsusbotService 'wuauserv' $Result['log']) { $Result['changed'] = $true }
    $Result['after'] = Read-AuState
    [void]$Result['log'].Add('detection and self-update follow within about 10 minutes')
}
