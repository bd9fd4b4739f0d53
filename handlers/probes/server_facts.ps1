# wsusbot-probe: server_facts v1
# Facts about a WSUS server (docs/catalogue.md, wsusbot.server_facts/1; 'http' is added by the
# bot). Read-only. Params: timeout_ms (int): the longest wait for an external tool (stsadm).

function Invoke-WsusbotProbe_server_facts {
    param($P, $Doc, $Errors)

    $setupKey = 'SOFTWARE\Microsoft\Update Services\Server\Setup'

    function Get-WsusSection {
        # HKLM\SOFTWARE\Microsoft\Update Services\Server\Setup, written by WSUS setup:
        # TargetDir (install dir), PortNumber, UsingSSL (1 = SSL), VersionString (WSUS 3+;
        # else the version resource of Tools\WsusUtil.exe)
        $section = New-WsusbotMap
        $installed = Test-WsusbotRegKey $setupKey
        $section['installed'] = $installed
        $section['version'] = $null
        $section['install_dir'] = $null
        $section['port'] = $null
        $section['ssl'] = $null
        $section['selfupdate_script_present'] = $null
        if (-not $installed) { return ,$section }
        $dir = Get-WsusbotRegValue $setupKey 'TargetDir'
        if ($dir) { $section['install_dir'] = ([string]$dir).TrimEnd('\') }
        $port = Get-WsusbotRegValue $setupKey 'PortNumber'
        if ($null -ne $port) { $section['port'] = [int]$port }
        $ssl = Get-WsusbotRegValue $setupKey 'UsingSSL'
        if ($null -ne $ssl) { $section['ssl'] = ([int]$ssl -ne 0) }
        $version = Get-WsusbotRegValue $setupKey 'VersionString'
        if (-not $version -and $section['install_dir']) {
            $version = Get-WsusbotFileVersion ($section['install_dir'] + '\Tools\WsusUtil.exe')
        }
        if ($version) { $section['version'] = [string]$version }
        if ($section['install_dir']) {
            # the script that creates the self-update tree on the port-80 site
            $section['selfupdate_script_present'] = [System.IO.File]::Exists($section['install_dir'] + '\setup\InstallSelfupdateOnPort80.vbs')
        }
        return ,$section
    }

    function Find-Stsadm {
        # SharePoint's command-line tool: WSS 2.0 in ...\web server extensions\60\BIN, WSS 3.0 /
        # MOSS 2007 in ...\12\BIN (Powerful Command Line Administration for SharePoint,
        # https://docs.microsoft.com/en-us/previous-versions/technet-magazine/cc162513(v=msdn.10)),
        # then 14, 15, 16 (not verified)
        foreach ($hive in @('60', '12', '14', '15', '16')) {
            $path = $env:CommonProgramFiles + '\Microsoft Shared\web server extensions\' + $hive + '\BIN\stsadm.exe'
            if ([System.IO.File]::Exists($path)) { return $path }
        }
        return $null
    }

    function Invoke-Stsadm {
        param([string]$Stsadm, [string]$Arguments)
        $timeout = Get-WsusbotParam $P 'timeout_ms'
        if ($null -eq $timeout) { $timeout = 30000 }
        $start = New-Object System.Diagnostics.ProcessStartInfo $Stsadm
        $start.Arguments = $Arguments
        $start.UseShellExecute = $false
        $start.RedirectStandardOutput = $true
        $start.CreateNoWindow = $true
        $process = [System.Diagnostics.Process]::Start($start)
        # the output is a few lines, well under a pipe buffer, so waiting before reading is safe
        if (-not $process.WaitForExit([int]$timeout)) {
            $process.Kill()
            throw "stsadm did not finish within $timeout ms"
        }
        return $process.StandardOutput.ReadToEnd()
    }

    function ConvertTo-ManagedPathKind {
        # SPPrefixType: ExplicitInclusion, WildcardInclusion, Exclusion (obsolete from WSS 3.0)
        # https://learn.microsoft.com/en-us/previous-versions/office/developer/sharepoint-services/ms464544(v=office.12)
        param([string]$Type)
        if ($Type -match 'Exclu') { return 'exclusion' }
        if ($Type -match 'Wild') { return 'wildcard' }
        if ($Type -match 'Expl') { return 'explicit' }
        return $Type.ToLowerInvariant()
    }

    function New-ManagedPath {
        param([string]$Name, [string]$Type)
        $entry = New-WsusbotMap
        $entry['path'] = '/' + $Name.TrimStart('/')
        $entry['kind'] = ConvertTo-ManagedPathKind $Type
        return ,$entry
    }

    function Get-ManagedPathsFromObjectModel {
        # WSS 3.0 and later: SPWebApplication.Prefixes (SPPrefix.Name, SPPrefix.PrefixType),
        # https://learn.microsoft.com/en-us/previous-versions/office/developer/sharepoint-2010/ms468487(v=office.14)
        param([int]$Port)
        $assembly = [System.Reflection.Assembly]::LoadWithPartialName('Microsoft.SharePoint')
        if ($null -eq $assembly) { throw 'the Microsoft.SharePoint assembly cannot be loaded' }
        $application = [Microsoft.SharePoint.Administration.SPWebApplication]::Lookup((New-Object System.Uri ('http://localhost:' + $Port)))
        if ($null -eq $application) { throw "no SharePoint web application on port $Port" }
        $paths = New-WsusbotList
        foreach ($prefix in $application.Prefixes) { [void]$paths.Add((New-ManagedPath ([string]$prefix.Name) ([string]$prefix.PrefixType))) }
        return ,$paths
    }

    function Get-ManagedPathsFromStsadm {
        # 'stsadm -o enummanagedpaths -url <site>' (read-only) lists the managed paths as XML
        # elements carrying a name and a type; the exact layout is **not verified** against a
        # published sample, so any element with Name and Type attributes is read and anything
        # else is an error, never a guess
        param([string]$Stsadm, [int]$Port)
        $text = Invoke-Stsadm $Stsadm ('-o enummanagedpaths -url http://localhost:' + $Port)
        $xml = [xml]$text
        $paths = New-WsusbotList
        foreach ($node in $xml.SelectNodes('//*[@Name and @Type]')) {
            [void]$paths.Add((New-ManagedPath ([string]$node.GetAttribute('Name')) ([string]$node.GetAttribute('Type'))))
        }
        if ($paths.Count -eq 0 -and $text.Trim()) { throw 'stsadm -o enummanagedpaths printed no Name/Type entries' }
        return ,$paths
    }

    function Get-SharePointSection {
        # SharePoint owns a site when its root web.config registers SharePoint, or the site
        # has SharePoint's _vti_bin / _layouts virtual directories
        param($Site)
        $section = New-WsusbotMap
        $present = $false
        foreach ($vdir in $Site['vdirs']) {
            if ($vdir['path'] -eq '/_vti_bin' -or $vdir['path'] -eq '/_layouts') { $present = $true }
        }
        $root = Find-WsusbotVdir $Site '/'
        if (-not $present -and $null -ne $root -and $root['physical_path']) {
            $config = [System.IO.Path]::Combine($root['physical_path'], 'web.config')
            if ([System.IO.File]::Exists($config)) { $present = ([System.IO.File]::ReadAllText($config) -match 'SharePoint') }
        }
        $where = 'iis.sites.' + $Site['name'] + '.sharepoint'
        $section['present'] = $present
        $section['excluded_paths'] = $null
        $section['version'] = $null
        $section['managed_paths'] = $null
        if (-not $present) { return ,$section }
        $port = $null
        foreach ($binding in $Site['bindings']) { if ($binding['protocol'] -eq 'http' -and $null -eq $port) { $port = $binding['port'] } }
        $stsadm = Find-Stsadm
        if ($null -eq $stsadm) { Add-WsusbotError $Errors $where 'stsadm.exe not found'; return ,$section }
        # the product version: the file version of stsadm.exe (6.0.2.x under 60\BIN, 12.0.x
        # under 12\BIN); the 'Web Server Extensions\<ver>' registry key is not read: its
        # values are not verified
        $section['version'] = Get-WsusbotFileVersion $stsadm
        if ($null -eq $port) { Add-WsusbotError $Errors $where 'the site has no http binding'; return ,$section }
        $major = $null
        if ($section['version']) { $major = [int]([string]$section['version']).Split('.')[0] }
        if ($null -ne $major -and $major -lt 12) {
            # WSS 2.0: included and excluded paths (Managing Paths (WSS 2.0),
            # https://learn.microsoft.com/en-us/previous-versions/tn-archive/cc287929(v=office.12))
            try {
                $paths = Get-ManagedPathsFromStsadm $stsadm $port
                $section['managed_paths'] = $paths
                $excluded = New-WsusbotList
                foreach ($path in $paths) { if ($path['kind'] -eq 'exclusion') { [void]$excluded.Add($path['path']) } }
                $section['excluded_paths'] = $excluded
            } catch { Add-WsusbotError $Errors $where $_ }
            return ,$section
        }
        # WSS 3.0 / MOSS 2007 and later: inclusions only; the object model first, stsadm second
        try { $section['managed_paths'] = Get-ManagedPathsFromObjectModel $port } catch {
            Add-WsusbotError $Errors $where $_
            try { $section['managed_paths'] = Get-ManagedPathsFromStsadm $stsadm $port } catch { Add-WsusbotError $Errors $where $_ }
        }
        return ,$section
    }

    function Get-IisSection {
        $section = New-WsusbotMap
        $section['version'] = Get-WsusbotIisVersion
        $section['sites'] = $null
        $section['app_pools'] = $null
        if ($null -eq $section['version']) {
            Add-WsusbotError $Errors 'iis' 'IIS is not installed (no HKLM\SOFTWARE\Microsoft\InetStp\MajorVersion)'
            return ,$section
        }
        try {
            $sites = Get-WsusbotIisSites $Errors
            foreach ($site in $sites) {
                try { $site['sharepoint'] = Get-SharePointSection $site } catch { Add-WsusbotError $Errors ('iis.sites.' + $site['name'] + '.sharepoint') $_ }
            }
            $section['sites'] = $sites
        } catch { Add-WsusbotError $Errors 'iis.sites' $_ }
        try { $section['app_pools'] = Get-WsusbotIisAppPools } catch { Add-WsusbotError $Errors 'iis.app_pools' $_ }
        return ,$section
    }

    function Get-ServicesSection {
        return ,(Get-WsusbotServicesSection @('WsusService', 'W3SVC') $Errors)
    }

    $Doc['host'] = $env:COMPUTERNAME
    $Doc['collected_at'] = Get-WsusbotUtcStamp ([DateTime]::UtcNow)
    $Doc['wsus'] = $null
    try { $Doc['wsus'] = Get-WsusSection } catch { Add-WsusbotError $Errors 'wsus' $_ }
    $Doc['iis'] = $null
    try { $Doc['iis'] = Get-IisSection } catch { Add-WsusbotError $Errors 'iis' $_ }
    $Doc['services'] = $null
    try { $Doc['services'] = Get-ServicesSection } catch { Add-WsusbotError $Errors 'services' $_ }
}
