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
        # SharePoint's command-line tool: WSS 2.0 = 60, WSS 3.0 / MOSS 2007 = 12, then 14, 15, 16
        foreach ($hive in @('60', '12', '14', '15', '16')) {
            $path = $env:CommonProgramFiles + '\Microsoft Shared\web server extensions\' + $hive + '\BIN\stsadm.exe'
            if ([System.IO.File]::Exists($path)) { return $path }
        }
        return $null
    }

    function Get-ExcludedPaths {
        # 'stsadm -o enummanagedpaths -url <site>' lists the managed paths as XML
        # (<Path Name="..." Type="Exclusion"/> for excluded ones); read-only
        param([string]$Stsadm, [int]$Port)
        $timeout = Get-WsusbotParam $P 'timeout_ms'
        if ($null -eq $timeout) { $timeout = 30000 }
        $start = New-Object System.Diagnostics.ProcessStartInfo $Stsadm
        $start.Arguments = '-o enummanagedpaths -url http://localhost:' + $Port
        $start.UseShellExecute = $false
        $start.RedirectStandardOutput = $true
        $start.CreateNoWindow = $true
        $process = [System.Diagnostics.Process]::Start($start)
        # the output is a few lines, well under a pipe buffer, so waiting before reading is safe
        if (-not $process.WaitForExit([int]$timeout)) {
            $process.Kill()
            throw "stsadm did not finish within $timeout ms"
        }
        $text = $process.StandardOutput.ReadToEnd()
        $excluded = New-WsusbotList
        $xml = [xml]$text
        foreach ($node in $xml.SelectNodes('//Path')) {
            if ([string]$node.GetAttribute('Type') -match 'Exclu') { [void]$excluded.Add('/' + ([string]$node.GetAttribute('Name')).TrimStart('/')) }
        }
        return ,$excluded
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
        $section['present'] = $present
        $section['excluded_paths'] = $null
        if ($present) {
            $port = $null
            foreach ($binding in $Site['bindings']) { if ($binding['protocol'] -eq 'http' -and $null -eq $port) { $port = $binding['port'] } }
            $stsadm = Find-Stsadm
            if ($null -eq $stsadm) { Add-WsusbotError $Errors ('iis.sites.' + $Site['name'] + '.sharepoint') 'stsadm.exe not found' }
            elseif ($null -ne $port) {
                try { $section['excluded_paths'] = Get-ExcludedPaths $stsadm $port } catch { Add-WsusbotError $Errors ('iis.sites.' + $Site['name'] + '.sharepoint') $_ }
            }
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
