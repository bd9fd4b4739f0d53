# wsusbot-probe: fix_enable_automatic_updates v1
# Fix client.enable_automatic_updates (seed steps 14-16, "enable Automatic Updates"):
# - HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU: delete NoAutoUpdate when it
#   is 1 (disabled) and AUOptions when it is 1 (disabled in the older KB's policy values);
#   policy values override the Control Panel setting (waas-wu-settings,
#   https://learn.microsoft.com/windows/deployment/update/waas-wu-settings)
# - HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update: AUOptions = 3
#   ("automatically download and notify of installation") when it is 1, the value Control
#   Panel writes when Automatic Updates is turned off
#   (http://smallvoid.com/article/winnt-automatic-updates-config.html, third-party)
# - restart wuauserv when it was running: it reads these settings when it starts (same
#   source; not verified in Microsoft documentation). A stopped service is left stopped
#   (client.restart_wuauserv starts it).
# Domain Group Policy writes the policy values back at its next refresh. Params: none.

function Invoke-WsusbotProbe_fix_enable_automatic_updates {
    param($P, $Result)
    $auPolicyKey = 'SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU'
    $auStateKey = 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update'

    function Read-AuSettings {
        $state = New-WsusbotMap
        $state['NoAutoUpdate'] = Get-WsusbotRegValue $auPolicyKey 'NoAutoUpdate'
        $state['policy AUOptions'] = Get-WsusbotRegValue $auPolicyKey 'AUOptions'
        $state['AUOptions'] = Get-WsusbotRegValue $auStateKey 'AUOptions'
        $state['wuauserv'] = Get-WsusbotService 'wuauserv'
        return ,$state
    }

    $before = Read-AuSettings
    $Result['before'] = $before
    $policy = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($auPolicyKey, $true)
    if ($null -ne $policy) {
        try {
            foreach ($name in @('NoAutoUpdate', 'AUOptions')) {
                $value = $policy.GetValue($name, $null)
                if ($null -ne $value -and [int]$value -eq 1) {
                    $policy.DeleteValue($name, $false)
                    [void]$Result['log'].Add("deleted policy AU\$name (was 1)")
                }
            }
        } finally { $policy.Close() }
    }
    $controlPanel = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($auStateKey, $true)
    if ($null -ne $controlPanel) {
        try {
            $value = $controlPanel.GetValue('AUOptions', $null)
            if ($null -ne $value -and [int]$value -eq 1) {
                $controlPanel.SetValue('AUOptions', 3, [Microsoft.Win32.RegistryValueKind]::DWord)
                [void]$Result['log'].Add('set Auto Update\AUOptions = 3 (was 1: off in Control Panel)')
            }
        } finally { $controlPanel.Close() }
    }
    $Result['changed'] = Test-WsusbotDifferent $before (Read-AuSettings)
    if ($Result['changed'] -and $null -ne $before['wuauserv'] -and $before['wuauserv']['state'] -eq 'Running') {
        [void](Stop-WsusbotService 'wuauserv' $Result['log'])
        [void](Start-WsusbotService 'wuauserv' $Result['log'])
    }
    if (-not $Result['changed']) { [void]$Result['log'].Add('nothing was set to disabled: no change') }
    $Result['after'] = Read-AuSettings
    [void]$Result['log'].Add('Group Policy refresh writes policy values back unless the GPO sets the same')
}
