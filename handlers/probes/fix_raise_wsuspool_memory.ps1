# wsusbot-probe: fix_raise_wsuspool_memory v1
# Fix server.raise_wsuspool_memory: sets the WsusPool application pool's
# recycling/periodicRestart/@privateMemory to 7372800 KB (four times the 1843200 KB WSUS
# default; Microsoft: "Increase the WsusPool Private Memory limit x4 times, or set to 0
# (unlimited)", quoted in https://github.com/MicrosoftDocs/SCCMdocs/issues/519) unless it is
# already 0 (no limit) or higher, raises @queueLength to 2000 when lower (IIS default 1000,
# MicrosoftDocs/iis-docs iis/configuration/system.applicationHost/applicationPools/add/index.md),
# then recycles the pool. IIS 7 and later only, through Microsoft.Web.Administration (the API
# under appcmd: 'appcmd set apppool WsusPool /recycling.periodicRestart.privateMemory:7372800
# /queueLength:2000'); self-contained, so it needs no IIS helper library. Params: none.

function Invoke-WsusbotProbe_fix_raise_wsuspool_memory {
    param($P, $Result)

    $targetKb = [long]7372800
    $targetQueue = [long]2000

    function New-PoolManager {
        $major = Get-WsusbotRegValue 'SOFTWARE\Microsoft\InetStp' 'MajorVersion'
        if ($null -eq $major) { throw 'IIS is not installed (no HKLM\SOFTWARE\Microsoft\InetStp\MajorVersion)' }
        if ([int]$major -lt 7) { throw "IIS $major has no applicationHost.config privateMemory setting for WsusPool" }
        # LoadWithPartialName finds the GAC copy whichever IIS version installed it
        [void][System.Reflection.Assembly]::LoadWithPartialName('Microsoft.Web.Administration')
        return New-Object Microsoft.Web.Administration.ServerManager
    }

    function Read-PoolState {
        $manager = New-PoolManager
        $pool = $manager.ApplicationPools['WsusPool']
        if ($null -eq $pool) { throw 'IIS has no WsusPool application pool' }
        $state = New-WsusbotMap
        $state['state'] = [string]$pool.State
        $state['private_memory_kb'] = [long]$pool.Recycling.PeriodicRestart.PrivateMemory
        $state['queue_length'] = [long]$pool.QueueLength
        return ,$state
    }

    $before = Read-PoolState
    $Result['before'] = $before
    $manager = New-PoolManager
    $pool = $manager.ApplicationPools['WsusPool']
    $edited = $false
    $current = [long]$before['private_memory_kb']
    if ($current -ne 0 -and $current -lt $targetKb) {
        $pool.Recycling.PeriodicRestart.PrivateMemory = $targetKb
        [void]$Result['log'].Add("WsusPool privateMemory $current KB -> $targetKb KB")
        $edited = $true
    } else {
        [void]$Result['log'].Add("WsusPool privateMemory is $current KB (0 = no limit); left alone")
    }
    if ([long]$before['queue_length'] -lt $targetQueue) {
        $pool.QueueLength = $targetQueue
        [void]$Result['log'].Add(('WsusPool queueLength ' + $before['queue_length'] + " -> $targetQueue"))
        $edited = $true
    }
    if ($edited) {
        $manager.CommitChanges()
        $Result['changed'] = $true
        [void]$Result['log'].Add('applicationHost.config committed')
        # a fresh manager sees the committed pool; recycle it so the new limit applies now
        $fresh = New-PoolManager
        $running = $fresh.ApplicationPools['WsusPool']
        if ([string]$running.State -eq 'Started') {
            [void]$running.Recycle()
            [void]$Result['log'].Add('recycled application pool WsusPool')
        } else {
            [void]$Result['log'].Add(('WsusPool is ' + [string]$running.State + '; not recycled (server.start_services starts it)'))
        }
    }
    $after = Read-PoolState
    $Result['after'] = $after
    if ($after['private_memory_kb'] -ne 0 -and $after['private_memory_kb'] -lt $targetKb) { throw 'WsusPool privateMemory is still below the target after the change' }
}
