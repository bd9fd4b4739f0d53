# wsusbot-probe: fix_restart_wuauserv v1
# Fix client.restart_wuauserv: 'sc config wuauserv start= auto' when the service is
# Disabled (Win32_Service.ChangeStartMode), then 'net stop' / 'net start' wuauserv.
# Params: none.

function Invoke-WsusbotProbe_fix_restart_wuauserv {
    param($P, $Result)
    $before = New-WsusbotMap
    $before['wuauserv'] = Get-WsusbotService 'wuauserv'
    $Result['before'] = $before
    if ($null -eq $before['wuauserv']) { throw 'the wuauserv service is not installed' }
    if ($before['wuauserv']['start_mode'] -eq 'Disabled') {
        $service = Get-WmiObject -Class Win32_Service -Filter "Name='wuauserv'"
        $outcome = $service.ChangeStartMode('Automatic')
        if ($outcome.ReturnValue -ne 0) { throw ('ChangeStartMode(Automatic) returned ' + $outcome.ReturnValue) }
        $Result['changed'] = $true
        [void]$Result['log'].Add('start mode Disabled -> Auto')
    }
    if (Stop-WsusbotService 'wuauserv' $Result['log']) { $Result['changed'] = $true }
    if (Start-WsusbotService 'wuauserv' $Result['log']) { $Result['changed'] = $true }
    $after = New-WsusbotMap
    $after['wuauserv'] = Get-WsusbotService 'wuauserv'
    $Result['after'] = $after
}
