# wsusbot-probe: wsus_computers v1
# The WSUS server's computer inventory (wsusbot.wsus_computers/1) through the WSUS admin
# API (Microsoft.UpdateServices.Administration, installed with the WSUS console; the
# Get-WsusComputer cmdlet of 2012+ wraps the same objects). Read-only.
# Params (all optional): offset (default 0), page_size (default: every computer), format
# ('rows': the compact page the bot reads; default: one object per computer). An
# inventory of 100,000s is read as pages, one command each, in a stable order (by
# computer id); 'total' says how many there are, 'next_offset' where the next page
# starts ($null after the last page).

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

    # rows: one JSON array per computer (values in 'columns' order) instead of one object
    # with eight keys, and the four columns whose values repeat across a fleet as an index
    # into the page's 'tables' (null stays null): a third of the bytes over WinRM
    $asRows = ([string](Get-WsusbotParam $P 'format') -ceq 'rows')
    if (-not $asRows) { $Doc['computers'] = $null }
    try {
        [void][System.Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')
        $server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()
    } catch {
        # no WSUS API here (not a WSUS server, or the console is not installed): the
        # inventory is null (unread), in either format
        $Doc['computers'] = $null
        Add-WsusbotError $Errors 'wsus_computers' $_
        return
    }

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

    $all = $server.GetComputerTargets()
    $total = [int]$all.Count
    $offset = Get-WsusbotParam $P 'offset'
    if ($null -eq $offset) { $offset = 0 }
    $offset = [Math]::Max(0, [int]$offset)
    $size = Get-WsusbotParam $P 'page_size'
    if ($null -eq $size) { $size = $total }
    $size = [Math]::Max(1, [int]$size)

    # every page is its own command: sort by id so the pages never overlap
    $targets = New-Object 'object[]' $total
    $keys = New-Object 'string[]' $total
    $index = 0
    foreach ($target in $all) {
        if ($index -ge $total) { break }
        $targets[$index] = $target
        $keys[$index] = [string]$target.Id
        $index++
    }
    [Array]::Sort($keys, $targets, [StringComparer]::Ordinal)
    $end = [Math]::Min($total, $offset + $size)

    if ($asRows) {
        $columns = @('name', 'ip', 'client_version', 'os', 'last_sync_time',
            'last_reported_status_time', 'last_sync_result', 'target_group')
        $tables = New-WsusbotMap
        $known = @{}
        foreach ($column in @('client_version', 'os', 'last_sync_result', 'target_group')) {
            $tables[$column] = New-WsusbotList
            # case-sensitive: '@{}' would fold 'Windows XP' and 'WINDOWS XP' into one value
            $known[$column] = New-Object System.Collections.Hashtable ([StringComparer]::Ordinal)
        }
        function Get-TableIndex {
            # the value's index in its column's table, added on first sight; null stays null
            param([string]$Column, $Value)
            if ($null -eq $Value) { return $null }
            $text = [string]$Value
            $seen = $known[$Column]
            if (-not $seen.ContainsKey($text)) { $seen[$text] = $tables[$Column].Add($text) }
            return [int]$seen[$text]
        }
        $rows = New-WsusbotList
        for ($index = $offset; $index -lt $end; $index++) {
            $target = $targets[$index]
            $ip = $null
            if ($null -ne $target.IPAddress) { $ip = $target.IPAddress.ToString() }
            $row = New-WsusbotList
            [void]$row.Add([string]$target.FullDomainName)
            [void]$row.Add($ip)
            [void]$row.Add((Get-TableIndex 'client_version' ([string]$target.ClientVersion)))
            [void]$row.Add((Get-TableIndex 'os' ([string]$target.OSDescription)))
            [void]$row.Add((Format-WsusTime $target.LastSyncTime))
            [void]$row.Add((Format-WsusTime $target.LastReportedStatusTime))
            # SynchronizationResult: Succeeded, Failed, Unknown
            [void]$row.Add((Get-TableIndex 'last_sync_result' ([string]$target.LastSyncResult)))
            [void]$row.Add((Get-TableIndex 'target_group' $groupsOf[$target.Id]))
            [void]$rows.Add($row)
        }
        $Doc['columns'] = $columns
        $Doc['tables'] = $tables
        $Doc['rows'] = $rows
    } else {
        $computers = New-WsusbotList
        for ($index = $offset; $index -lt $end; $index++) {
            $target = $targets[$index]
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
    $Doc['total'] = $total
    $Doc['offset'] = $offset
    $Doc['next_offset'] = $null
    if ($end -lt $total) { $Doc['next_offset'] = $end }
}
