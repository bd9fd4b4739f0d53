# wsusbot-probe: client_facts v1
# Facts about a WSUS client (docs/catalogue.md, wsusbot.client_facts/1). Read-only: it reads
# the registry, WMI and files and makes the HTTP requests a client makes; it writes nothing.
# Params: expected_wsus_url (string or null), timeout_ms (int, per HTTP request).

function Invoke-WsusbotProbe_client_facts {
    param($P, $Doc, $Errors)

    $policyKey = 'SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate'
    $auPolicyKey = 'SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU'
    $auStateKey = 'SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update'

    function Get-OsSection {
        # Win32_OperatingSystem: Caption, Version ("5.1.2600"), BuildNumber, OSLanguage (LCID),
        # ProductType (1 = workstation); OSArchitecture does not exist before Vista, so the
        # architecture comes from the process environment (PROCESSOR_ARCHITEW6432 is set
        # when this PowerShell is the 32-bit one on a 64-bit OS)
        $os = Get-WmiObject -Class Win32_OperatingSystem
        $section = New-WsusbotMap
        $section['caption'] = ([string]$os.Caption).Trim()
        $section['version'] = [string]$os.Version
        $section['build'] = [string]$os.BuildNumber
        $arch = $env:PROCESSOR_ARCHITEW6432
        if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
        $section['arch'] = $arch
        $section['language'] = $null
        try {
            $culture = New-Object System.Globalization.CultureInfo ([int]$os.OSLanguage)
            # the self-update tree names languages by two letters, except the Chinese
            # scripts and Brazilian Portuguese (ZH-TW, ZH-CN, ZH-HK, PT-BR)
            $language = $culture.TwoLetterISOLanguageName.ToLowerInvariant()
            if ($language -eq 'zh' -or $culture.Name -eq 'pt-BR') { $language = $culture.Name.ToLowerInvariant() }
            $section['language'] = $language
        } catch { Add-WsusbotError $Errors 'os.language' $_ }
        # NT 5.x have a legacy self-update tree: 5.1 = XP, 5.2 = NetServer (Server 2003; XP
        # x64 shares its code base and tree). 5.0 = W2K is kept for completeness only: this
        # probe never runs there, since WinRM 2.0 / PowerShell 2.0 (WMF 2.0) exist for XP,
        # Server 2003, Vista and Server 2008 but not Windows 2000 (KB968929; PowerShell-Docs
        # wmf-overview.md); checks/client/selfupdate_reachable.py says so for W2K facts
        $selfupdate = $null
        $parts = ([string]$os.Version).Split('.')
        if ($parts.Length -ge 2 -and $parts[0] -eq '5') {
            if ($parts[1] -eq '0') { $selfupdate = 'W2K' }
            elseif ($parts[1] -eq '1') { $selfupdate = 'XP' }
            elseif ($parts[1] -eq '2') { $selfupdate = 'NetServer' }
        }
        $section['selfupdate_os'] = $selfupdate
        return ,$section
    }

    function Get-AgentSection {
        # the Automatic Updates engine's file version: %SystemRoot%\system32\wuaueng.dll
        $section = New-WsusbotMap
        $section['wuaueng_version'] = Get-WsusbotFileVersion ($env:SystemRoot + '\system32\wuaueng.dll')
        return ,$section
    }

    function Get-PolicySection {
        # HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate (WUServer, WUStatusServer,
        # TargetGroup, TargetGroupEnabled) and its AU subkey (UseWUServer, NoAutoUpdate,
        # AUOptions), as Group Policy or reg.exe writes them.
        # Windows 10/11 scan source (absent on older Windows): DisableDualScan,
        # DeferQualityUpdates, DeferFeatureUpdates ("dual scan" with WSUS, 1607+; Microsoft
        # WSUS blog "Demystifying Dual Scan" / "Improving Dual Scan on 1607"),
        # SetPolicyDrivenUpdateSourceForQualityUpdates / ...FeatureUpdates (0 = Windows
        # Update, 1 = WSUS; 2004+), DoNotConnectToWindowsUpdateInternetLocations, all DWORDs
        # in the WindowsUpdate key, and AU\UseUpdateClassPolicySource (the scan source values
        # count only when it is 1): learn.microsoft.com/windows/deployment/update/wufb-wsus
        # and MicrosoftDocs/memdocs integrate-windows-update-for-business-windows-10.md
        $section = New-WsusbotMap
        foreach ($name in @('WUServer', 'WUStatusServer')) {
            $value = Get-WsusbotRegValue $policyKey $name
            if ($null -ne $value) { $value = [string]$value }
            $section[$name] = $value
        }
        foreach ($name in @('UseWUServer', 'NoAutoUpdate', 'AUOptions')) {
            $value = Get-WsusbotRegValue $auPolicyKey $name
            if ($null -ne $value) { $value = [int]$value }
            $section[$name] = $value
        }
        $group = Get-WsusbotRegValue $policyKey 'TargetGroup'
        if ($null -ne $group) { $group = [string]$group }
        $section['TargetGroup'] = $group
        $enabled = Get-WsusbotRegValue $policyKey 'TargetGroupEnabled'
        if ($null -ne $enabled) { $enabled = [int]$enabled }
        $section['TargetGroupEnabled'] = $enabled
        foreach ($name in @('DisableDualScan', 'DeferQualityUpdates', 'DeferFeatureUpdates',
                'SetPolicyDrivenUpdateSourceForQualityUpdates', 'SetPolicyDrivenUpdateSourceForFeatureUpdates',
                'DoNotConnectToWindowsUpdateInternetLocations')) {
            $value = Get-WsusbotRegValue $policyKey $name
            if ($null -ne $value) { $value = [int]$value }
            $section[$name] = $value
        }
        $classSource = Get-WsusbotRegValue $auPolicyKey 'UseUpdateClassPolicySource'
        if ($null -ne $classSource) { $classSource = [int]$classSource }
        $section['UseUpdateClassPolicySource'] = $classSource
        return ,$section
    }

    function Get-AuSection {
        # HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update: AUState
        # (REG_DWORD), LastWaitTimeout (UTC) / DetectionStartTime (local time), REG_SZ as
        # written, e.g. "2003.09.10 12:38:10" (smallvoid.com sample; Microsoft's text writes
        # HH.MM.SS), kept raw; Results\Detect\LastSuccessTime (REG_SZ, UTC); the
        # RebootRequired subkey exists while an installed update waits for a restart.
        # AUOptions here is the Control Panel setting (1 = turned off), not the policy one
        $section = New-WsusbotMap
        $state = Get-WsusbotRegValue $auStateKey 'AUState'
        if ($null -ne $state) { $state = [int]$state }
        $section['AUState'] = $state
        $options = Get-WsusbotRegValue $auStateKey 'AUOptions'
        if ($null -ne $options) { $options = [int]$options }
        $section['AUOptions'] = $options
        foreach ($name in @('LastWaitTimeout', 'DetectionStartTime')) {
            $value = Get-WsusbotRegValue $auStateKey $name
            if ($null -ne $value) { $value = [string]$value }
            $section[$name] = $value
        }
        $success = Get-WsusbotRegValue ($auStateKey + '\Results\Detect') 'LastSuccessTime'
        if ($null -ne $success) { $success = [string]$success }
        $section['last_search_success'] = $success
        $section['reboot_required'] = Test-WsusbotRegKey ($auStateKey + '\RebootRequired')
        return ,$section
    }

    function Get-ServicesSection {
        return ,(Get-WsusbotServicesSection @('wuauserv', 'BITS') $Errors)
    }

    function Get-ProxySection {
        # WinHTTP proxy (the one the update agent uses), from the registry blob that both
        # 'netsh winhttp set proxy' (Vista+) and 'proxycfg' (XP/2003) write:
        # HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections\WinHttpSettings
        # layout: DWORD struct version, DWORD counter, DWORD flags (bit 2 = proxy in use),
        # DWORD length + proxy server (ANSI), DWORD length + bypass list (';'-separated).
        # netsh's own output is localised, the blob is not.
        $section = New-WsusbotMap
        $section['winhttp'] = $null
        $section['bypass'] = New-WsusbotList
        $blob = Get-WsusbotRegValue 'SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections' 'WinHttpSettings'
        if ($null -eq $blob -or $blob.Length -lt 16) { return ,$section }
        $flags = [System.BitConverter]::ToInt32($blob, 8)
        $proxyLength = [System.BitConverter]::ToInt32($blob, 12)
        if (($flags -band 2) -eq 0 -or $proxyLength -le 0 -or 16 + $proxyLength -gt $blob.Length) { return ,$section }
        $section['winhttp'] = [System.Text.Encoding]::Default.GetString($blob, 16, $proxyLength)
        $offset = 16 + $proxyLength
        if ($offset + 4 -le $blob.Length) {
            $bypassLength = [System.BitConverter]::ToInt32($blob, $offset)
            if ($bypassLength -gt 0 -and $offset + 4 + $bypassLength -le $blob.Length) {
                $bypass = [System.Text.Encoding]::Default.GetString($blob, $offset + 4, $bypassLength)
                foreach ($entry in $bypass.Split(';')) {
                    if ($entry.Trim()) { [void]$section['bypass'].Add($entry.Trim()) }
                }
            }
        }
        return ,$section
    }

    function New-AgentProxy {
        # the WinHTTP proxy as a WebProxy, so the requests below go the way the agent's do;
        # $null = direct. Per-scheme lists ("http=host:port;https=...") take the http entry.
        param($ProxySection)
        if ($null -eq $ProxySection -or -not $ProxySection['winhttp']) { return $null }
        $server = [string]$ProxySection['winhttp']
        foreach ($item in $server.Split(';')) {
            if ($item -match '^\s*http=(.+)$') { $server = $Matches[1]; break }
            if ($item -notmatch '=') { $server = $item; break }
        }
        $bypassLocal = $false
        $patterns = New-WsusbotList
        foreach ($entry in $ProxySection['bypass']) {
            if ($entry -eq '<local>') { $bypassLocal = $true; continue }
            [void]$patterns.Add('^' + [regex]::Escape($entry).Replace('\*', '.*').Replace('\?', '.') + '$')
        }
        return New-Object System.Net.WebProxy ('http://' + $server.Trim()), $bypassLocal, ([string[]]$patterns.ToArray())
    }

    function Invoke-ClientRequest {
        # System.Net.HttpWebRequest (PowerShell 2.0 has no Invoke-WebRequest): GET without
        # following redirects, the status line is all that matters, the body is not read
        param([string]$Url, [int]$TimeoutMs, $Proxy)
        $entry = New-WsusbotMap
        $entry['url'] = $Url
        $entry['status'] = $null
        $entry['error'] = $null
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $response = $null
        try {
            $request = [System.Net.HttpWebRequest][System.Net.WebRequest]::Create($Url)
            $request.Method = 'GET'
            $request.AllowAutoRedirect = $false
            $request.Timeout = $TimeoutMs
            $request.ReadWriteTimeout = $TimeoutMs
            $request.KeepAlive = $false
            $request.UserAgent = 'wsusbot-probe/1'
            $request.Proxy = $Proxy
            $response = $request.GetResponse()
            $entry['status'] = [int]$response.StatusCode
        } catch {
            $failure = $_.Exception
            while ($null -ne $failure -and -not ($failure -is [System.Net.WebException])) { $failure = $failure.InnerException }
            if ($null -eq $failure) {
                $entry['error'] = Get-WsusbotErrorMessage $_
            } elseif ($null -ne $failure.Response) {
                $entry['status'] = [int]$failure.Response.StatusCode
                $failure.Response.Close()
            } else {
                switch ([string]$failure.Status) {
                    'ConnectFailure' { $entry['error'] = 'refused' }
                    'Timeout' { $entry['error'] = 'timeout' }
                    'NameResolutionFailure' { $entry['error'] = 'dns' }
                    'ProxyNameResolutionFailure' { $entry['error'] = 'proxy dns' }
                    default { $entry['error'] = [string]$failure.Status }
                }
            }
        } finally {
            if ($null -ne $response) { $response.Close() }
        }
        $watch.Stop()
        $entry['elapsed_ms'] = [Math]::Round($watch.Elapsed.TotalMilliseconds, 1)
        return ,$entry
    }

    function Get-HttpSection {
        # the URLs of docs/probes.md ("client_facts: what the client fetches"), in order
        param($Policy, $Os, $ProxySection)
        $results = New-WsusbotList
        $base = $null
        if ($null -ne $Policy -and $Policy['WUServer']) { $base = [string]$Policy['WUServer'] }
        if (-not $base) { $base = Get-WsusbotParam $P 'expected_wsus_url' }
        if (-not $base) { return ,$results }
        $base = ([string]$base).TrimEnd('/')
        $uri = $null
        if (-not [System.Uri]::TryCreate($base, [System.UriKind]::Absolute, [ref]$uri) -or
            ($uri.Scheme -ne 'http' -and $uri.Scheme -ne 'https')) {
            Add-WsusbotError $Errors 'http' "'$base' is not an http(s) URL: nothing requested"
            return ,$results
        }
        $timeout = Get-WsusbotParam $P 'timeout_ms'
        if ($null -eq $timeout) { $timeout = 10000 }
        $hostName = $uri.Host
        $urls = New-WsusbotList
        [void]$urls.Add($base + '/ClientWebService/client.asmx')
        [void]$urls.Add('http://' + $hostName + '/iuident.cab')
        [void]$urls.Add('http://' + $hostName + '/selfupdate/wuident.cab')
        # WSUS 2012 and later serve the self-update tree on the WSUS port too (MS-WUSP)
        if (($base + '/selfupdate/wuident.cab') -ne ('http://' + $hostName + '/selfupdate/wuident.cab')) {
            [void]$urls.Add($base + '/selfupdate/wuident.cab')
        }
        if ($null -ne $Os -and $Os['selfupdate_os'] -and $Os['language']) {
            [void]$urls.Add('http://' + $hostName + '/selfupdate/AU/x86/' + $Os['selfupdate_os'] + '/' +
                ([string]$Os['language']).ToUpperInvariant() + '/wuaucomp.cab')
        }
        $proxy = $null
        try { $proxy = New-AgentProxy $ProxySection } catch { Add-WsusbotError $Errors 'proxy' $_ }
        foreach ($url in $urls) { [void]$results.Add((Invoke-ClientRequest $url ([int]$timeout) $proxy)) }
        return ,$results
    }

    function Get-TextTail {
        # the last lines of a log another process holds open (FileShare.ReadWrite), reading
        # only its final 64 KB
        param([string]$Path, [int]$Lines)
        $stream = New-Object System.IO.FileStream $Path, ([System.IO.FileMode]::Open), ([System.IO.FileAccess]::Read), ([System.IO.FileShare]'ReadWrite, Delete')
        try {
            $start = [Math]::Max([long]0, $stream.Length - 65536)
            [void]$stream.Seek($start, [System.IO.SeekOrigin]::Begin)
            $buffer = New-Object byte[] ([int]($stream.Length - $start))
            $read = 0
            while ($read -lt $buffer.Length) {
                $count = $stream.Read($buffer, $read, $buffer.Length - $read)
                if ($count -le 0) { break }
                $read += $count
            }
        } finally { $stream.Close() }
        # the agent's log is ANSI; a file read from its start may carry a byte-order mark
        # (the Windows 10+ notice is short enough to be read whole)
        $encoding = [System.Text.Encoding]::Default
        $skip = 0
        if ($start -eq 0 -and $read -ge 2 -and $buffer[0] -eq 0xFF -and $buffer[1] -eq 0xFE) { $encoding = [System.Text.Encoding]::Unicode; $skip = 2 }
        elseif ($start -eq 0 -and $read -ge 3 -and $buffer[0] -eq 0xEF -and $buffer[1] -eq 0xBB -and $buffer[2] -eq 0xBF) { $encoding = [System.Text.Encoding]::UTF8; $skip = 3 }
        $text = $encoding.GetString($buffer, $skip, $read - $skip)
        $all = $text.Replace("`r", '').Split("`n")
        $tail = New-WsusbotList
        $first = 0
        if ($start -gt 0) { $first = 1 }
        $from = [Math]::Max($first, $all.Length - $Lines - 1)
        for ($index = $from; $index -lt $all.Length; $index++) {
            if ($all[$index].Length -gt 0) { [void]$tail.Add($all[$index]) }
        }
        return ,$tail
    }

    function Get-UpdateEventsSection {
        # Microsoft-Windows-WindowsUpdateClient/Operational (Vista and later), read through
        # System.Diagnostics.Eventing.Reader, the .NET 3.5 API behind Get-WinEvent
        # (PowerShell 2.0): newest first, the last $Hours hours, at most $MaxEvents events,
        # errors and warnings before information. Event ids (provider manifest, listed at
        # https://detection-wiki-dev.pages.dev/microsoft-windows-windowsupdateclient/):
        # 25 search failed "with error 0x...", 26 search succeeded, 31 download failed,
        # 34/35 self-update failed. Windows XP/2003 have no such log: available = false.
        # Levels are reported as English words from the numeric level (the display
        # names are localised); the message is FormatDescription() in the host's language,
        # its error codes are not translated.
        param([int]$Hours, [int]$MaxEvents)
        $logName = 'Microsoft-Windows-WindowsUpdateClient/Operational'
        $section = New-WsusbotMap
        $section['log'] = $logName
        $section['available'] = $false
        $section['events'] = $null
        if ([System.Environment]::OSVersion.Version.Major -lt 6) { return ,$section }
        $reader = $null
        try {
            $xpath = '*[System[TimeCreated[timediff(@SystemTime) <= ' + ([long]$Hours * 3600000) + ']]]'
            $query = New-Object System.Diagnostics.Eventing.Reader.EventLogQuery $logName, ([System.Diagnostics.Eventing.Reader.PathType]::LogName), $xpath
            $query.ReverseDirection = $true
            $reader = New-Object System.Diagnostics.Eventing.Reader.EventLogReader $query
        } catch {
            $cause = $_.Exception
            while ($null -ne $cause.InnerException) { $cause = $cause.InnerException }
            if ($cause.GetType().Name -eq 'EventLogNotFoundException') { return ,$section }
            $section['available'] = $null
            Add-WsusbotError $Errors 'logs.windowsupdate_events' $_
            return ,$section
        }
        $problems = New-WsusbotList
        $others = New-WsusbotList
        $seen = 0
        try {
            while ($seen -lt $MaxEvents * 5 -and $problems.Count -lt $MaxEvents) {
                $record = $reader.ReadEvent()
                if ($null -eq $record) { break }
                $seen += 1
                $number = [int]$record.Level
                $level = 'Information'
                if ($number -eq 1) { $level = 'Critical' } elseif ($number -eq 2) { $level = 'Error' } elseif ($number -eq 3) { $level = 'Warning' }
                if ($level -eq 'Information' -and $others.Count -ge $MaxEvents) { continue }
                $message = $null
                try { $message = $record.FormatDescription() } catch { $message = $null }
                if (-not $message) {
                    # no message resource: the raw values, HRESULTs in hex as messages show them
                    $values = New-WsusbotList
                    foreach ($property in $record.Properties) {
                        $value = $property.Value
                        if (($value -is [uint32] -and $value -ge 2147483648) -or ($value -is [int32] -and $value -lt 0)) { $value = '0x' + $value.ToString('X8') }
                        [void]$values.Add([string]$value)
                    }
                    $message = 'event ' + $record.Id + ' (no message text): ' + [string]::Join('; ', [string[]]$values.ToArray())
                }
                $entry = New-WsusbotMap
                $entry['time'] = $null
                # PowerShell unwraps the Nullable[DateTime]: compare with $null, then cast
                if ($null -ne $record.TimeCreated) { $entry['time'] = Get-WsusbotUtcStamp (([datetime]$record.TimeCreated).ToUniversalTime()) }
                $entry['id'] = [int]$record.Id
                $entry['level'] = $level
                $entry['message'] = [string]$message
                if ($level -eq 'Information') { [void]$others.Add($entry) } else { [void]$problems.Add($entry) }
            }
        } catch {
            Add-WsusbotError $Errors 'logs.windowsupdate_events' $_
        } finally { $reader.Dispose() }
        $events = New-WsusbotList
        foreach ($entry in $problems) { [void]$events.Add($entry) }
        foreach ($entry in $others) { if ($events.Count -lt $MaxEvents) { [void]$events.Add($entry) } }
        $section['available'] = $true
        $section['events'] = $events
        return ,$section
    }

    function Get-LogsSection {
        # %windir%\WindowsUpdate.log (the agent's text log up to Windows 8.1; a stub later)
        # and %ProgramFiles%\WindowsUpdate\V4\urllog.dat (the SUS-era agent's queue of
        # pingback URLs it could not deliver: any content = a cached pingback)
        $section = New-WsusbotMap
        $log = New-WsusbotMap
        $log['path'] = $env:SystemRoot + '\WindowsUpdate.log'
        $log['exists'] = [System.IO.File]::Exists($log['path'])
        $log['tail'] = $null
        if ($log['exists']) {
            try { $log['tail'] = Get-TextTail $log['path'] 200 } catch { Add-WsusbotError $Errors 'logs.windowsupdate_log' $_ }
        }
        # the log's timestamps are local: the host's offset (minutes, local = UTC + offset)
        $log['utc_offset_minutes'] = $null
        try { $log['utc_offset_minutes'] = [int][System.TimeZone]::CurrentTimeZone.GetUtcOffset([DateTime]::Now).TotalMinutes } catch { Add-WsusbotError $Errors 'logs.windowsupdate_log' $_ }
        $section['windowsupdate_log'] = $log
        $urllog = New-WsusbotMap
        $urllog['path'] = $env:ProgramFiles + '\WindowsUpdate\V4\urllog.dat'
        $urllog['exists'] = [System.IO.File]::Exists($urllog['path'])
        $urllog['pingback_cached'] = $null
        if ($urllog['exists']) {
            try { $urllog['pingback_cached'] = ((New-Object System.IO.FileInfo $urllog['path']).Length -gt 0) } catch { Add-WsusbotError $Errors 'logs.urllog_dat' $_ }
        }
        $section['urllog_dat'] = $urllog
        $section['windowsupdate_events'] = Get-UpdateEventsSection 72 200
        return ,$section
    }

    # host and time: the NetBIOS name as the inventory usually knows it; UTC now
    $Doc['host'] = $env:COMPUTERNAME
    $Doc['collected_at'] = Get-WsusbotUtcStamp ([DateTime]::UtcNow)
    $sections = @(
        @('os', 'Get-OsSection'),
        @('agent', 'Get-AgentSection'),
        @('policy', 'Get-PolicySection'),
        @('au', 'Get-AuSection'),
        @('services', 'Get-ServicesSection'),
        @('proxy', 'Get-ProxySection')
    )
    foreach ($pair in $sections) {
        $Doc[$pair[0]] = $null
        try { $Doc[$pair[0]] = & $pair[1] } catch { Add-WsusbotError $Errors $pair[0] $_ }
    }
    # http needs policy, os and proxy; it goes before logs to follow the schema's order
    $Doc['http'] = $null
    try { $Doc['http'] = Get-HttpSection $Doc['policy'] $Doc['os'] $Doc['proxy'] } catch { Add-WsusbotError $Errors 'http' $_ }
    $Doc['logs'] = $null
    try { $Doc['logs'] = Get-LogsSection } catch { Add-WsusbotError $Errors 'logs' $_ }
}
