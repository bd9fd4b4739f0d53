# wsusbot-lib: common v1
# Helpers shared by every wsusbot probe; the composer (handlers/probes/compose.py) puts this
# text after the $params line. Windows PowerShell 2.0 compatible throughout: no
# ConvertTo-Json / ConvertFrom-Json, no [ordered], no [pscustomobject] literal, no '?.'.
# Conventions: a function that must hand back a collection returns it with the unary
# comma (return ,$list) because PowerShell unrolls collections written to the pipeline.

# stdout must carry the JSON document alone: progress (CLIXML over WinRM), warnings and
# verbose text would otherwise be written to it by the console host
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$DebugPreference = 'SilentlyContinue'

function New-WsusbotMap {
    # insertion-ordered, so documents read in the order fields are added
    return ,(New-Object System.Collections.Specialized.OrderedDictionary)
}

function New-WsusbotList {
    return ,(New-Object System.Collections.ArrayList)
}

function Get-WsusbotErrorMessage {
    param($Failure)
    $exception = $null
    if ($Failure -is [System.Management.Automation.ErrorRecord]) { $exception = $Failure.Exception }
    elseif ($Failure -is [System.Exception]) { $exception = $Failure }
    if ($null -eq $exception) { return [string]$Failure }
    # method calls wrap the real failure in MethodInvocationException: report the cause
    while ($exception -is [System.Management.Automation.MethodInvocationException] -and $null -ne $exception.InnerException) {
        $exception = $exception.InnerException
    }
    return $exception.Message
}

function Add-WsusbotError {
    param($Errors, [string]$Source, $Failure)
    $entry = New-WsusbotMap
    $entry['source'] = $Source
    $entry['message'] = Get-WsusbotErrorMessage $Failure
    [void]$Errors.Add($entry)
}

function Get-WsusbotUtcStamp {
    param([datetime]$When)
    return $When.ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture)
}

# ------------------------------------------------------------------ JSON writer

$WsusbotJsonEscapes = [System.Text.RegularExpressions.MatchEvaluator] {
    param($Match)
    $code = [int][char]$Match.Value
    if ($code -eq 0x22) { return '\"' }
    if ($code -eq 0x5C) { return '\\' }
    # everything outside printable ASCII is \u-escaped, so stdout is pure ASCII and
    # survives whatever code page the console (or WinRM's pipe) applies
    return '\u' + $code.ToString('x4')
}
$WsusbotJsonSpecial = New-Object System.Text.RegularExpressions.Regex '[^\x20\x21\x23-\x5B\x5D-\x7E]'

function ConvertTo-WsusbotJsonString {
    param([string]$Text)
    return '"' + $WsusbotJsonSpecial.Replace($Text, $WsusbotJsonEscapes) + '"'
}

function ConvertTo-WsusbotJson {
    param($Value, [int]$Depth = 0)
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    if ($Depth -gt 64) { throw 'JSON writer: document nested deeper than 64 levels' }
    if ($null -eq $Value) { return 'null' }
    if ($Value -is [bool]) { if ($Value) { return 'true' } else { return 'false' } }
    if ($Value -is [string] -or $Value -is [char]) { return ConvertTo-WsusbotJsonString ([string]$Value) }
    if ($Value -is [datetime]) { return ConvertTo-WsusbotJsonString (Get-WsusbotUtcStamp ($Value.ToUniversalTime())) }
    if ($Value -is [byte] -or $Value -is [int16] -or $Value -is [uint16] -or $Value -is [int32] -or
        $Value -is [uint32] -or $Value -is [int64] -or $Value -is [uint64] -or $Value -is [sbyte]) {
        return $Value.ToString($invariant)
    }
    if ($Value -is [double] -or $Value -is [single] -or $Value -is [decimal]) {
        $number = [double]$Value
        if ([double]::IsNaN($number) -or [double]::IsInfinity($number)) { return 'null' }
        return $number.ToString('R', $invariant)
    }
    if ($Value -is [System.Collections.IDictionary]) {
        $members = New-Object System.Collections.ArrayList
        foreach ($key in $Value.Keys) {
            [void]$members.Add((ConvertTo-WsusbotJsonString ([string]$key)) + ':' + (ConvertTo-WsusbotJson $Value[$key] ($Depth + 1)))
        }
        return '{' + [string]::Join(',', [string[]]$members.ToArray()) + '}'
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = New-Object System.Collections.ArrayList
        foreach ($item in $Value) { [void]$items.Add((ConvertTo-WsusbotJson $item ($Depth + 1))) }
        return '[' + [string]::Join(',', [string[]]$items.ToArray()) + ']'
    }
    return ConvertTo-WsusbotJsonString ([string]$Value)
}

# ------------------------------------------------------------------ JSON reader
# Parameters arrive as JSON text. JavaScriptSerializer (System.Web.Extensions, .NET 3.5+)
# is used where it loads; hosts with only .NET 2.0 (PowerShell 2.0 on XP/2003 may have
# nothing newer) fall back to the small reader below. Both yield IDictionary / object[]
# so the probes read parameters one way. ConvertFrom-Json (PowerShell 3+) is not used on
# purpose: it yields PSCustomObject, a third shape for the same data.

function ConvertFrom-WsusbotJson {
    param([string]$Text)
    $serializer = $null
    try {
        # the newest installed version (3.5 or 4.x); $null, then the New-Object fails, without it
        [void][System.Reflection.Assembly]::LoadWithPartialName('System.Web.Extensions')
        $serializer = New-Object System.Web.Script.Serialization.JavaScriptSerializer
        $serializer.MaxJsonLength = [int]::MaxValue
    } catch {
        $serializer = $null
    }
    if ($null -ne $serializer) { return ,$serializer.DeserializeObject($Text) }
    $reader = @{ Text = $Text; Pos = 0 }
    $value = Read-WsusbotJsonValue $reader
    Skip-WsusbotJsonSpace $reader
    if ($reader.Pos -ne $Text.Length) { throw "JSON reader: unexpected text at offset $($reader.Pos)" }
    return ,$value
}

function Skip-WsusbotJsonSpace {
    param($Reader)
    while ($Reader.Pos -lt $Reader.Text.Length -and " `t`r`n".IndexOf($Reader.Text[$Reader.Pos]) -ge 0) {
        $Reader.Pos += 1
    }
}

function Read-WsusbotJsonString {
    param($Reader)
    $text = $Reader.Text
    if ($Reader.Pos -ge $text.Length -or $text[$Reader.Pos] -ne '"') { throw "JSON reader: string expected at offset $($Reader.Pos)" }
    $Reader.Pos += 1
    $builder = New-Object System.Text.StringBuilder
    while ($true) {
        if ($Reader.Pos -ge $text.Length) { throw 'JSON reader: unterminated string' }
        $ch = $text[$Reader.Pos]
        $Reader.Pos += 1
        if ($ch -eq '"') { break }
        if ($ch -ne '\') { [void]$builder.Append($ch); continue }
        $escape = $text[$Reader.Pos]
        $Reader.Pos += 1
        switch -CaseSensitive ([string]$escape) {
            'n' { [void]$builder.Append("`n") }
            'r' { [void]$builder.Append("`r") }
            't' { [void]$builder.Append("`t") }
            'b' { [void]$builder.Append([char]8) }
            'f' { [void]$builder.Append([char]12) }
            'u' {
                $hex = $text.Substring($Reader.Pos, 4)
                [void]$builder.Append([char][System.Convert]::ToInt32($hex, 16))
                $Reader.Pos += 4
            }
            default { [void]$builder.Append($escape) }
        }
    }
    return $builder.ToString()
}

$WsusbotJsonNumber = New-Object System.Text.RegularExpressions.Regex '\G-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?'

function Read-WsusbotJsonValue {
    param($Reader)
    Skip-WsusbotJsonSpace $Reader
    $text = $Reader.Text
    if ($Reader.Pos -ge $text.Length) { throw 'JSON reader: unexpected end of text' }
    $ch = $text[$Reader.Pos]
    if ($ch -eq '{') {
        $Reader.Pos += 1
        $map = @{}
        Skip-WsusbotJsonSpace $Reader
        if ($text[$Reader.Pos] -eq '}') { $Reader.Pos += 1; return ,$map }
        while ($true) {
            Skip-WsusbotJsonSpace $Reader
            $key = Read-WsusbotJsonString $Reader
            Skip-WsusbotJsonSpace $Reader
            if ($text[$Reader.Pos] -ne ':') { throw "JSON reader: ':' expected at offset $($Reader.Pos)" }
            $Reader.Pos += 1
            $map[$key] = Read-WsusbotJsonValue $Reader
            Skip-WsusbotJsonSpace $Reader
            $next = $text[$Reader.Pos]
            $Reader.Pos += 1
            if ($next -eq '}') { return ,$map }
            if ($next -ne ',') { throw "JSON reader: ',' or '}' expected at offset $($Reader.Pos - 1)" }
        }
    }
    if ($ch -eq '[') {
        $Reader.Pos += 1
        $list = New-Object System.Collections.ArrayList
        Skip-WsusbotJsonSpace $Reader
        if ($text[$Reader.Pos] -eq ']') { $Reader.Pos += 1; return ,($list.ToArray()) }
        while ($true) {
            [void]$list.Add((Read-WsusbotJsonValue $Reader))
            Skip-WsusbotJsonSpace $Reader
            $next = $text[$Reader.Pos]
            $Reader.Pos += 1
            if ($next -eq ']') { return ,($list.ToArray()) }
            if ($next -ne ',') { throw "JSON reader: ',' or ']' expected at offset $($Reader.Pos - 1)" }
        }
    }
    if ($ch -eq '"') { return Read-WsusbotJsonString $Reader }
    foreach ($literal in @('true', 'false', 'null')) {
        if ([string]::CompareOrdinal($text, $Reader.Pos, $literal, 0, $literal.Length) -eq 0) {
            $Reader.Pos += $literal.Length
            if ($literal -eq 'true') { return $true }
            if ($literal -eq 'false') { return $false }
            return $null
        }
    }
    $match = $WsusbotJsonNumber.Match($text, $Reader.Pos)
    if (-not $match.Success -or $match.Length -eq 0) { throw "JSON reader: value expected at offset $($Reader.Pos)" }
    $Reader.Pos += $match.Length
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    if ($match.Groups[1].Success -or $match.Groups[2].Success) { return [double]::Parse($match.Value, $invariant) }
    return [long]::Parse($match.Value, $invariant)
}

function Get-WsusbotParam {
    # a parameter by name, or $null when absent (never an error: every parameter has a
    # default). Both reader results (Hashtable, Dictionary[string,object]) have a public
    # ContainsKey; IDictionary.Contains is explicit on the generic Dictionary.
    param($Params, [string]$Name)
    if ($Params -is [System.Collections.IDictionary] -and $Params.ContainsKey($Name)) { return ,$Params[$Name] }
    return $null
}

# ------------------------------------------------------------------ Windows sources

function Get-WsusbotRegValue {
    # HKLM value through Microsoft.Win32.Registry: $null when the key or the value is absent
    param([string]$SubKey, [string]$Name)
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($SubKey)
    if ($null -eq $key) { return $null }
    # the comma keeps REG_BINARY / REG_MULTI_SZ arrays whole instead of unrolled
    try { return ,$key.GetValue($Name, $null) } finally { $key.Close() }
}

function Test-WsusbotRegKey {
    param([string]$SubKey)
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($SubKey)
    if ($null -eq $key) { return $false }
    $key.Close()
    return $true
}

function Get-WsusbotService {
    # Win32_Service State ('Running', 'Stopped', ...) and StartMode ('Auto', 'Manual',
    # 'Disabled'); $null when the service is not installed
    param([string]$Name)
    $service = Get-WmiObject -Class Win32_Service -Filter ("Name='" + $Name + "'")
    if ($null -eq $service) { return $null }
    $state = New-WsusbotMap
    $state['state'] = [string]$service.State
    $state['start_mode'] = [string]$service.StartMode
    return ,$state
}

function Get-WsusbotServicesSection {
    # one {state, start_mode} per service name; a missing service is null plus an error
    param([string[]]$Names, $Errors)
    $section = New-WsusbotMap
    foreach ($name in $Names) {
        $section[$name] = $null
        try {
            $section[$name] = Get-WsusbotService $name
            if ($null -eq $section[$name]) { Add-WsusbotError $Errors "services.$name" "service '$name' is not installed" }
        } catch { Add-WsusbotError $Errors "services.$name" $_ }
    }
    return ,$section
}

function Get-WsusbotFileVersion {
    # "major.minor.build.revision" from the file's version resource
    param([string]$Path)
    if (-not [System.IO.File]::Exists($Path)) { return $null }
    $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($Path)
    return ('{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart)
}

# ------------------------------------------------------------------ entry points

function Write-WsusbotDocument {
    param($Document)
    try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }
    $json = ConvertTo-WsusbotJson $Document
    [Console]::Out.Write($json)
    [Console]::Out.Flush()
}

function Invoke-WsusbotFactsProbe {
    # one facts probe in its own function scope; a probe that throws yields a document
    # with only 'schema' and 'errors'
    param([string]$Name, [string]$Schema, $Params)
    $document = New-WsusbotMap
    $document['schema'] = $Schema
    $errors = New-WsusbotList
    try {
        $ErrorActionPreference = 'Stop'
        $null = & "Invoke-WsusbotProbe_$Name" $Params $document $errors
    } catch {
        $document = New-WsusbotMap
        $document['schema'] = $Schema
        Add-WsusbotError $errors $Name $_
    }
    $document['errors'] = $errors
    return ,$document
}

function Invoke-WsusbotFactsMain {
    param([string]$Name, [string]$Schema, [string]$ParamsJson)
    $parsed = $null
    $failure = $null
    try { $parsed = ConvertFrom-WsusbotJson $ParamsJson } catch { $failure = $_ }
    if ($null -ne $failure) {
        $document = New-WsusbotMap
        $document['schema'] = $Schema
        $errors = New-WsusbotList
        Add-WsusbotError $errors 'params' $failure
        $document['errors'] = $errors
    } else {
        $document = Invoke-WsusbotFactsProbe $Name $Schema $parsed
    }
    Write-WsusbotDocument $document
}

function Invoke-WsusbotBundleMain {
    # $Parts: probe name, schema, probe name, schema, ...
    param([string]$ParamsJson, [string[]]$Parts)
    $documents = New-WsusbotMap
    $probes = $null
    $failure = $null
    try { $probes = Get-WsusbotParam (ConvertFrom-WsusbotJson $ParamsJson) 'probes' } catch { $failure = $_ }
    for ($index = 0; $index -lt $Parts.Length; $index += 2) {
        $name = $Parts[$index]
        $schema = $Parts[$index + 1]
        if ($null -ne $failure) {
            $document = New-WsusbotMap
            $document['schema'] = $schema
            $errors = New-WsusbotList
            Add-WsusbotError $errors 'params' $failure
            $document['errors'] = $errors
        } else {
            $document = Invoke-WsusbotFactsProbe $name $schema (Get-WsusbotParam $probes $name)
        }
        $documents[$name] = $document
    }
    $bundle = New-WsusbotMap
    $bundle['schema'] = 'wsusbot.bundle/1'
    $bundle['documents'] = $documents
    Write-WsusbotDocument $bundle
}
