# wsusbot-probe: wsus_computers v1
# The WSUS server's computer inventory (wsusbot.wsus_computers/1) through the WSUS admin
# API (Microsoft.UpdateServices.Administration, installed with the WSUS console; the
# Get-WsusComputer cmdlet of 2012+ wraps the same objects). Read-only. Params: none.

function Invoke-WsusbotProbe_wsus_computers {
    param($P, $Doc, $Errors)

    # the 'All Computers' group every computer belongs to, by its fixed id
    $allComputers = [guid]'a0a08746-4dbe-4a37-9adf-9e7652c0b421'

    function Format-WsusTime {
        # the API gives UTC times; DateTime.MinValue means "never"
        param($When)
        if ($null -eq $When -or $When -eq [DateTime]::MinValue) { return $null }
        return Get-WsusbotUtcStamp ([DateTime]$When)
    }

    $Doc['computers'] = $null
    [void][System.Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')
    $server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()

    # group membership through one query per group, not one per computer (fleets of
    # thousands): computer id -> group names other than 'All Computers'
    $groupsOf = @{}
    try {
        foreach ($group in $server.GetComputerTargetGroups()) {
            if ($group.Id -eq $allComputers) { continue }
            foreach ($member in $group.GetComputerTargets()) {
                if ($groupsOf.ContainsKey($member.Id)) { $groupsOf[$member.Id] = $groupsOf[$member.Id] + ', ' + $group.Name }
                else { $groupsOf[$member.Id] = [string]$group.Name }
            }
        }
    } catch { Add-WsusbotError $Errors 'computers.target_group' $_ }

    $computers = New-WsusbotList
    foreach ($target in $server.GetComputerTargets()) {
        $entry = New-WsusbotMap
        $entry['name'] = [string]$target.FullDomainName
        $entry['ip'] = $null
        if ($null -ne $target.IPAddress) { $entry['ip'] = $target.IPAddress.ToString() }
        $entry['client_version'] = [string]$target.ClientVersion
        $entry['os'] = [string]$target.OSDescription
        $entry['last_sync_time'] = Format-WsusTime $target.LastSyncTime
        $entry['last_reported_status_time'] = Format-WsusTime $target.LastReportedStatusTime
        # SynchronizationResult: Succeeded, Failed, Unknown
        $entry['last_sync_result'] = [string]$target.LastSyncResult
        $entry['target_group'] = $groupsOf[$target.Id]
        [void]$computers.Add($entry)
    }
    $Doc['computers'] = $computers
}
