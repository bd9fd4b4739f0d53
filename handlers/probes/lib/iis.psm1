# wsusbot-lib: iis v1
# IIS helpers for the server-side probes. IIS 7 and later are read through
# Microsoft.Web.Administration (ServerManager: the API under both the WebAdministration
# module and appcmd.exe, and present even where that module is not); IIS 6 through its
# metabase over ADSI (IIS://localhost/W3SVC). The version decides:
# HKLM\SOFTWARE\Microsoft\InetStp MajorVersion / MinorVersion.

$WsusbotAnonymousSection = 'system.webServer/security/authentication/anonymousAuthentication'

function Get-WsusbotIisVersion {
    $major = Get-WsusbotRegValue 'SOFTWARE\Microsoft\InetStp' 'MajorVersion'
    if ($null -eq $major) { return $null }
    $minor = Get-WsusbotRegValue 'SOFTWARE\Microsoft\InetStp' 'MinorVersion'
    if ($null -eq $minor) { $minor = 0 }
    return ('{0}.{1}' -f [int]$major, [int]$minor)
}

function Test-WsusbotModernIis {
    $version = Get-WsusbotIisVersion
    if ($null -eq $version) { throw 'IIS is not installed (no HKLM\SOFTWARE\Microsoft\InetStp\MajorVersion)' }
    return ([int]$version.Split('.')[0] -ge 7)
}

function New-WsusbotServerManager {
    # LoadWithPartialName finds the GAC copy whichever IIS version installed it
    [void][System.Reflection.Assembly]::LoadWithPartialName('Microsoft.Web.Administration')
    return New-Object Microsoft.Web.Administration.ServerManager
}

function Expand-WsusbotPath {
    param([string]$Path)
    if (-not $Path) { return $Path }
    return [System.Environment]::ExpandEnvironmentVariables($Path)
}

function Get-WsusbotAdsiValue {
    # .psbase: PowerShell's DirectoryEntry adapter shows ADSI properties, not .NET members
    param($Entry, [string]$Name)
    $values = $Entry.psbase.Properties[$Name]
    if ($null -eq $values -or $values.Count -eq 0) { return $null }
    return $values[0]
}

function ConvertTo-WsusbotBinding {
    # "ip:port:host" (IIS 7 bindingInformation and IIS 6 ServerBindings alike; the ip part
    # may be an [IPv6] literal, so the port is found from the right)
    param([string]$Protocol, [string]$Information)
    $binding = New-WsusbotMap
    $binding['protocol'] = $Protocol
    $binding['port'] = $null
    $binding['host'] = $null
    if ($Information -match '^(.*):([0-9]+):(.*)$') {
        $binding['port'] = [int]$Matches[2]
        if ($Matches[3]) { $binding['host'] = $Matches[3] }
    }
    return ,$binding
}

function New-WsusbotVdir {
    param([string]$Path, [string]$PhysicalPath, $Anonymous)
    $vdir = New-WsusbotMap
    $vdir['path'] = $Path
    $vdir['physical_path'] = $PhysicalPath
    $vdir['exists'] = $null
    if ($PhysicalPath) { $vdir['exists'] = [System.IO.Directory]::Exists($PhysicalPath) }
    $vdir['anonymous_auth'] = $Anonymous
    return ,$vdir
}

function Get-WsusbotModernSites {
    param($Errors)
    $manager = New-WsusbotServerManager
    $config = $manager.GetApplicationHostConfiguration()
    $sites = New-WsusbotList
    foreach ($site in $manager.Sites) {
        $entry = New-WsusbotMap
        $entry['name'] = [string]$site.Name
        $entry['id'] = [long]$site.Id
        # Site.State throws for sites whose protocol has no W3SVC listener (FTP)
        $entry['state'] = $null
        try { $entry['state'] = [string]$site.State } catch { Add-WsusbotError $Errors ("iis.sites." + $site.Name + ".state") $_ }
        $bindings = New-WsusbotList
        foreach ($binding in $site.Bindings) {
            [void]$bindings.Add((ConvertTo-WsusbotBinding ([string]$binding.Protocol) ([string]$binding.BindingInformation)))
        }
        $entry['bindings'] = $bindings
        # the site's logFile directory holds one W3SVC<id> folder per site
        $entry['log_dir'] = (Expand-WsusbotPath ([string]$site.LogFile.Directory)) + '\W3SVC' + $site.Id
        $entry['anonymous_auth'] = $null
        $vdirs = New-WsusbotList
        foreach ($application in $site.Applications) {
            foreach ($directory in $application.VirtualDirectories) {
                $path = $application.Path.TrimEnd('/') + $directory.Path
                if ($path.Length -gt 1) { $path = $path.TrimEnd('/') }
                $location = [string]$site.Name
                if ($path -ne '/') { $location = $location + $path }
                $anonymous = $null
                try {
                    $anonymous = [bool]$config.GetSection($WsusbotAnonymousSection, $location).GetAttributeValue('enabled')
                } catch { Add-WsusbotError $Errors ("iis.sites." + $site.Name + ".vdirs." + $path + ".anonymous_auth") $_ }
                if ($path -eq '/') { $entry['anonymous_auth'] = $anonymous }
                [void]$vdirs.Add((New-WsusbotVdir $path (Expand-WsusbotPath ([string]$directory.PhysicalPath)) $anonymous))
            }
        }
        $entry['vdirs'] = $vdirs
        $entry['sharepoint'] = $null
        [void]$sites.Add($entry)
    }
    return ,$sites
}

function Get-WsusbotLegacySites {
    # IIS 6 metabase: IIsWebServer nodes; ServerState 2 = started, 4 = stopped; AuthFlags
    # bit 1 = AuthAnonymous (ADSI returns the value inherited from the parent node)
    param($Errors)
    $states = @{ 1 = 'Starting'; 2 = 'Started'; 3 = 'Stopping'; 4 = 'Stopped'; 5 = 'Pausing'; 6 = 'Paused'; 7 = 'Continuing' }
    $sites = New-WsusbotList
    $service = New-Object System.DirectoryServices.DirectoryEntry 'IIS://localhost/W3SVC'
    foreach ($node in $service.psbase.Children) {
        if ($node.psbase.SchemaClassName -ne 'IIsWebServer') { continue }
        $id = [long]$node.psbase.Name
        $entry = New-WsusbotMap
        $entry['name'] = [string](Get-WsusbotAdsiValue $node 'ServerComment')
        $entry['id'] = $id
        $entry['state'] = $states[[int](Get-WsusbotAdsiValue $node 'ServerState')]
        $bindings = New-WsusbotList
        foreach ($value in $node.psbase.Properties['ServerBindings']) { [void]$bindings.Add((ConvertTo-WsusbotBinding 'http' ([string]$value))) }
        foreach ($value in $node.psbase.Properties['SecureBindings']) { [void]$bindings.Add((ConvertTo-WsusbotBinding 'https' ([string]$value))) }
        $entry['bindings'] = $bindings
        $entry['log_dir'] = (Expand-WsusbotPath ([string](Get-WsusbotAdsiValue $node 'LogFileDirectory'))) + '\W3SVC' + $id
        $entry['anonymous_auth'] = $null
        $vdirs = New-WsusbotList
        try {
            $root = New-Object System.DirectoryServices.DirectoryEntry ('IIS://localhost/W3SVC/' + $id + '/ROOT')
            $rootAnonymous = (([int](Get-WsusbotAdsiValue $root 'AuthFlags')) -band 1) -ne 0
            $entry['anonymous_auth'] = $rootAnonymous
            [void]$vdirs.Add((New-WsusbotVdir '/' (Expand-WsusbotPath ([string](Get-WsusbotAdsiValue $root 'Path'))) $rootAnonymous))
            # WSUS's virtual directories (ClientWebService, Selfupdate, ...) sit right under ROOT
            foreach ($child in $root.psbase.Children) {
                if ($child.psbase.SchemaClassName -ne 'IIsWebVirtualDir') { continue }
                $anonymous = (([int](Get-WsusbotAdsiValue $child 'AuthFlags')) -band 1) -ne 0
                [void]$vdirs.Add((New-WsusbotVdir ('/' + $child.psbase.Name) (Expand-WsusbotPath ([string](Get-WsusbotAdsiValue $child 'Path'))) $anonymous))
            }
        } catch { Add-WsusbotError $Errors ("iis.sites." + $entry['name'] + ".vdirs") $_ }
        $entry['vdirs'] = $vdirs
        $entry['sharepoint'] = $null
        [void]$sites.Add($entry)
    }
    return ,$sites
}

function Get-WsusbotIisSites {
    param($Errors)
    if (Test-WsusbotModernIis) { return ,(Get-WsusbotModernSites $Errors) }
    return ,(Get-WsusbotLegacySites $Errors)
}

function Get-WsusbotIisAppPools {
    $pools = New-WsusbotList
    if (Test-WsusbotModernIis) {
        $manager = New-WsusbotServerManager
        foreach ($pool in $manager.ApplicationPools) {
            $entry = New-WsusbotMap
            $entry['name'] = [string]$pool.Name
            $entry['state'] = [string]$pool.State
            # recycling/periodicRestart/@privateMemory (KB, 0 = no limit) and @queueLength
            # (default 1000; a full queue is answered 503): MicrosoftDocs/iis-docs
            # iis/configuration/system.applicationHost/applicationPools/add/recycling/periodicRestart/index.md
            # and .../applicationPools/add/index.md
            $entry['private_memory_kb'] = $null
            $entry['queue_length'] = $null
            try { $entry['private_memory_kb'] = [long]$pool.Recycling.PeriodicRestart.PrivateMemory } catch { $entry['private_memory_kb'] = $null }
            try { $entry['queue_length'] = [long]$pool.QueueLength } catch { $entry['queue_length'] = $null }
            [void]$pools.Add($entry)
        }
        return ,$pools
    }
    $states = @{ 1 = 'Starting'; 2 = 'Started'; 3 = 'Stopping'; 4 = 'Stopped' }
    $container = New-Object System.DirectoryServices.DirectoryEntry 'IIS://localhost/W3SVC/AppPools'
    foreach ($node in $container.psbase.Children) {
        if ($node.psbase.SchemaClassName -ne 'IIsApplicationPool') { continue }
        $entry = New-WsusbotMap
        $entry['name'] = [string]$node.psbase.Name
        $entry['state'] = $states[[int](Get-WsusbotAdsiValue $node 'AppPoolState')]
        # not read on IIS 6 (server.wsuspool skips it there)
        $entry['private_memory_kb'] = $null
        $entry['queue_length'] = $null
        [void]$pools.Add($entry)
    }
    return ,$pools
}

function Find-WsusbotPort80Site {
    # the started site with an http binding on port 80 (where the self-update tree must be)
    param($Sites)
    foreach ($site in $Sites) {
        if ($site['state'] -ne 'Started') { continue }
        foreach ($binding in $site['bindings']) {
            if ($binding['protocol'] -eq 'http' -and $binding['port'] -eq 80) { return ,$site }
        }
    }
    return $null
}

function Find-WsusbotVdir {
    param($Site, [string]$Path)
    foreach ($vdir in $Site['vdirs']) {
        if ([string]::Equals($vdir['path'], $Path, [System.StringComparison]::OrdinalIgnoreCase)) { return ,$vdir }
    }
    return $null
}
