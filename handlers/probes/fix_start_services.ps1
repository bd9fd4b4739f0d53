# wsusbot-probe: fix_start_services v1
# Fix server.start_services: start W3SVC, then WsusService, then the WsusPool application
# pool (IIS 7+: Microsoft.Web.Administration ApplicationPool.Start(), as 'appcmd start
# apppool WsusPool'; IIS 6: the metabase node IIS://localhost/W3SVC/AppPools/WsusPool).
# A Disabled service is reported, not re-enabled: that is an administrator's decision.
# Params: none.

function Invoke-WsusbotProbe_fix_start_services {
    param($P, $Result)

    function Get-PoolState {
        foreach ($pool in (Get-WsusbotIisAppPools)) {
            if ($pool['name'] -eq 'WsusPool') { return $pool['state'] }
        }
        return $null
    }

    function Read-ServerState {
        $state = New-WsusbotMap
        $state['W3SVC'] = Get-WsusbotService 'W3SVC'
        $state['WsusService'] = Get-WsusbotService 'WsusService'
        $state['WsusPool'] = Get-PoolState
        return ,$state
    }

    $Result['before'] = Read-ServerState
    foreach ($name in @('W3SVC', 'WsusService')) {
        $service = $Result['before'][$name]
        if ($null -eq $service) { throw "the $name service is not installed" }
        if ($service['start_mode'] -eq 'Disabled') { throw "the $name service is Disabled; set its start mode first" }
        if (Start-WsusbotService $name $Result['log']) { $Result['changed'] = $true }
    }
    $poolState = Get-PoolState
    if ($null -eq $poolState) { throw 'IIS has no WsusPool application pool' }
    if ($poolState -eq 'Started') {
        [void]$Result['log'].Add('WsusPool is already started')
    } elseif (Test-WsusbotModernIis) {
        $manager = New-WsusbotServerManager
        [void]$manager.ApplicationPools['WsusPool'].Start()
        $Result['changed'] = $true
        [void]$Result['log'].Add('started application pool WsusPool')
    } else {
        $node = New-Object System.DirectoryServices.DirectoryEntry 'IIS://localhost/W3SVC/AppPools/WsusPool'
        [void]$node.psbase.Invoke('Start')
        $Result['changed'] = $true
        [void]$Result['log'].Add('started application pool WsusPool')
    }
    $Result['after'] = Read-ServerState
}
